@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Migrations, translations, configuration")
struct HousekeepingTests {
    @Test("every migration runs up, down and up again")
    func migrationsRoundTrip() async throws {
        try await withTestApp { t in
            try await t.app.autoRevert()
            try await t.app.autoMigrate()
            #expect(try await Price.query(on: t.app.db).count() == 16)
        }
    }

    @Test("both translation files have the same keys, and every error code has a message")
    func translationsAreComplete() {
        let tables = Localizer.shared.tables
        let vi = Set(tables[.vi]?.keys ?? [:].keys)
        let en = Set(tables[.en]?.keys ?? [:].keys)
        #expect(!vi.isEmpty)
        #expect(vi == en)
        let codes: [AppError] = [.invalidJSON(detail: ""), .badRequest, .unsupportedMediaType, .payloadTooLarge(limitBytes: 1), .routeNotFound,
                                 .methodNotAllowed, .unauthenticated, .invalidCredentials, .invalidEmail, .passwordTooShort(minimum: 8), .passwordInvalid(maximumBytes: 72), .invalidName, .promptInvalidCharacters, .invalidDeadline,
                                 .emailTaken, .promptRequired, .promptTooLong(maximum: 1), .invalidMode, .unknownModel(""),
                                 .modelDoesNotMatchMode, .invalidAspectRatio, .invalidDuration, .invalidQuality,
                                 .optionUnavailable(model: "", duration: 0, quality: ""), .uploadRequired, .uploadNotAllowed,
                                 .uploadNotFound, .invalidIdempotencyKey, .idempotencyKeyReused,
                                 .insufficientCredits(needed: 0, available: 0), .promptRejected, .tooManyCreates(retryAfter: 1),
                                 .tooManyUnfinishedVideos(limit: 1), .tooManyLoginAttempts(retryAfter: 1), .tooManySignups(retryAfter: 1),
                                 .csrfFailed, .invalidImage, .fileRequired, .unsupportedImageType,
                                 .imageTooLarge(limitBytes: 1), .videoNotFound, .apiKeyNotFound, .notCancelable(status: ""), .invalidCursor,
                                 .invalidLimit, .providerUnavailable(videoID: nil), .providerBusy(videoID: nil),
                                 .providerOutOfCredits(videoID: nil), .providerMisconfigured(videoID: nil),
                                 .providerRejectedInput(videoID: nil, message: ""), .callbackNotFound, .callbackTaskMismatch,
                                 .invalidSignature, .accountDisabled, .userNotFound, .invalidAmount(maximum: 1),
                                 .reasonRequired(maximum: 1), .cannotDisableSelf, .priceNotFound,
                                 .invalidStyle(field: "key"), .notShareable, .videoExpired(days: 14), .invalidVariants, .internal]
        for error in codes {
            #expect(vi.contains("error.\(error.code)"), "missing message for \(error.code)")
        }
        for reason in [FailureReason.providerFailed, .contentRejected, .providerError, .submissionUnconfirmed, .timedOut, .missingResult] {
            #expect(vi.contains("failure.\(reason.rawValue)"))
        }
    }

    @Test("Accept-Language picks Vietnamese or English, Vietnamese by default")
    func languagePreference() {
        #expect(Language.preferred(by: nil) == .vi)
        #expect(Language.preferred(by: "en-GB,en;q=0.8") == .en)
        #expect(Language.preferred(by: "fr, en;q=0.5, vi;q=0.9") == .vi)
        #expect(Language.preferred(by: "de") == .vi)
    }

    @Test("configuration reads the environment and names every bad setting")
    func configuration() throws {
        let demo = try AppConfig.fromEnvironment([:], runsBackgroundWorkers: true)
        #expect(demo.database == .sqliteFile(path: "phim.sqlite"))
        #expect(demo.isDemoMode)
        #expect(demo.demoAccount?.email == "demo@phim.local")

        let live = try AppConfig.fromEnvironment(["KIE_API_KEY": "k", "DATABASE_URL": "sqlite::memory:",
                                                  "PHIM_SIMULATOR_DELAY_SECONDS": "0.5"], runsBackgroundWorkers: false)
        #expect(live.provider == .kie(baseURL: "https://api.kie.ai", apiKey: "k"))
        #expect(live.database == .sqliteMemory)
        #expect(live.demoAccount == nil)
        #expect(live.simulator.jobDuration == .milliseconds(500))

        let limited = try AppConfig.fromEnvironment(["PHIM_CREATES_PER_MINUTE": "3", "PHIM_MAX_UNFINISHED_VIDEOS": "4",
                                                     "PHIM_BLOCKED_TERMS": " gore , bạo lực\nnsfw", "PHIM_TRUST_FORWARDED_FOR": "1"],
                                                    runsBackgroundWorkers: false)
        #expect(limited.limits.createsPerMinute == 3 && limited.limits.maxUnfinishedJobs == 4)
        #expect(limited.blockedTerms == ["gore", "bạo lực", "nsfw"])
        #expect(limited.trustsForwardedFor)
        #expect(demo.limits.loginFailuresPerAccount == 5 && !demo.trustsForwardedFor && demo.blockedTerms.isEmpty)

        #expect {
            try AppConfig.fromEnvironment(["PHIM_SIMULATOR_FAILURE_RATE": "2", "DATABASE_URL": "mysql://x",
                                           "KIE_API_KEY": "secret-value", "PHIM_CREATES_PER_MINUTE": "0",
                                           "PHIM_BLOCKED_TERMS_FILE": "/no/such/file"], runsBackgroundWorkers: false)
        } throws: { error in
            let description = String(describing: error)
            return description.contains("PHIM_SIMULATOR_FAILURE_RATE") && description.contains("DATABASE_URL")
                && description.contains("PHIM_CREATES_PER_MINUTE") && description.contains("PHIM_BLOCKED_TERMS_FILE")
                && !description.contains("secret-value")
        }
    }

    @Test("health answers, and unknown routes get the JSON error shape")
    func healthAndNotFound() async throws {
        try await withTestApp { t in
            let health = try await t.tester.sendRequest(.GET, "/healthz")
            #expect(health.status == .ok)
            #expect(health.json["status"].string == "ok")
            let missing = try await t.tester.sendRequest(.GET, "/api/v1/nothing-here")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")
        }
    }
}
