// Wire specs written here from Kie's documents (not read from Phim's catalog), for provider tests.
import PhimProvider
import PhimSupport
import XCTest

enum WireSpecs {
    static func spec(_ json: String) -> WireSpec {
        // A test's own literal: a mistake in it is the test's bug, so fail loudly.
        try! WireSpec(json: JSON.parse(Data(json.utf8))!, path: "test")
    }

    /// Seedance 2 Mini: one id for both modes, integer duration, lower-case resolution, optional sound.
    static let seedance = spec(#"""
    {"family": "market", "provider_models": {"text_to_video": "bytedance/seedance-2-mini", "image_to_video": "bytedance/seedance-2-mini"},
     "prompt": {"max_length": 20000}, "image": {"field": "first_frame_url", "shape": "string"},
     "duration": {"field": "duration", "type": "integer", "values": [5, 10, 15]},
     "aspect_ratio": {"field": "aspect_ratio", "values": ["16:9", "9:16", "1:1"]},
     "resolution": {"field": "resolution", "values": [{"id": "480p"}, {"id": "720p"}]},
     "audio": {"field": "generate_audio", "policy": "optional"}}
    """#)

    /// Kling 3.0: string duration, resolution as `mode` std/pro, `sound`, `multi_shots: false` always.
    static let kling = spec(#"""
    {"family": "market", "provider_models": {"text_to_video": "kling-3.0/video", "image_to_video": "kling-3.0/video"},
     "prompt": {"max_length": 2500}, "image": {"field": "image_urls", "shape": "array"},
     "duration": {"field": "duration", "type": "string", "values": [5, 10, 15]},
     "aspect_ratio": {"field": "aspect_ratio", "values": ["16:9", "9:16", "1:1"]},
     "resolution": {"field": "mode", "values": [{"id": "720p", "wire": "std"}, {"id": "1080p", "wire": "pro"}]},
     "audio": {"field": "sound", "policy": "optional"}, "fixed": {"multi_shots": false}}
    """#)

    /// Grok Imagine: two ids, no ratio with an image, sound always on (no field).
    static let grok = spec(#"""
    {"family": "market", "provider_models": {"text_to_video": "grok-imagine/text-to-video", "image_to_video": "grok-imagine/image-to-video"},
     "prompt": {"max_length": 5000}, "image": {"field": "image_urls", "shape": "array"},
     "duration": {"field": "duration", "type": "string", "values": [6, 10]},
     "aspect_ratio": {"field": "aspect_ratio", "values": ["16:9", "9:16", "1:1"], "send_with_image": false},
     "resolution": {"field": "resolution", "values": [{"id": "480p"}, {"id": "720p"}]},
     "audio": {"policy": "always"}, "fixed": {"mode": "normal"}}
    """#)

    /// Veo 3.1 Fast: Veo's own API, a flat body, `generationType` per mode, fixed length and resolution.
    static let veo = spec(#"""
    {"family": "veo", "provider_models": {"text_to_video": "veo3_fast", "image_to_video": "veo3_fast"},
     "prompt": {"max_length": 2000}, "image": {"field": "imageUrls", "shape": "array"},
     "duration": {"values": [8]}, "aspect_ratio": {"field": "aspect_ratio", "values": ["16:9", "9:16"]},
     "resolution": {"values": [{"id": "720p"}]}, "audio": {"policy": "always"},
     "mode_fields": {"text_to_video": {"generationType": "TEXT_2_VIDEO"},
                     "image_to_video": {"generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"}}}
    """#)

    static func request(_ wire: WireSpec, mode: VideoMode = .textToVideo, prompt: String = "a lighthouse at dawn", aspectRatio: String = "16:9",
                        duration: Int? = nil, resolution: String? = nil, audio: Bool = false, imageURL: String? = nil,
                        callbackURL: String = "https://phim.test/cb") -> ProviderTaskRequest {
        ProviderTaskRequest(wire: wire, mode: mode, prompt: prompt, aspectRatio: aspectRatio,
                            durationSeconds: duration ?? wire.duration.values[0], resolution: resolution ?? wire.resolution.ids[0],
                            audio: audio, imageURL: imageURL, callbackURL: callbackURL)
    }
}
