// Checks a create body against the rules table, field by field from raw JSON, the way Kie refuses it.
import Foundation
import PhimSupport

extension KieModelRules {
    /// A create that passed every rule: what the simulator needs to make and bill the task.
    struct ValidatedCreate: Sendable {
        var rules: KieModelRules
        var input: Input
        var callBackURL: String?
        /// The prompt, where the model takes one (tags such as `#fail` are read from it).
        var prompt: String
        /// Every image URL Kie would fetch, in the order the fields list them.
        var imageURLs: [String]
        var priceMilliCredits: Int64
        /// The requested frame is taller than wide (9:16, 3:4, 2:3): the portrait sample video.
        var isPortrait: Bool
    }

    /// `POST /api/v1/jobs/createTask`: `{model, callBackUrl?, progressCallBackUrl?, input{…}}`.
    /// (Paused ids are answered before this, by the simulator.)
    static func validateMarket(_ body: JSON?) -> Result<ValidatedCreate, Refusal> {
        guard let body, case .object(let top) = body else { return .failure(Refusal(code: 422, msg: "Invalid request body")) }
        guard let modelValue = body["model"], !modelValue.isNull else { return .failure(.required("model")) }
        guard let model = modelValue.stringValue else { return .failure(.invalid("model", "expected a string")) }
        guard let rules = market(model) else { return .failure(Refusal(code: 422, msg: "The model \(model) is not supported")) }
        for (key, _) in top where !["model", "callBackUrl", "input"].contains(key) {
            if key == "progressCallBackUrl" {
                return .failure(.invalid(key, "not supported by \(model) (Kie took it only for the Sora 2 models)"))
            }
            return .failure(.invalid(key, "unknown field (a create takes model, callBackUrl and input)"))
        }
        var callBackURL: String?
        if let value = body["callBackUrl"] {
            guard let url = value.stringValue, isHTTPURL(url) else { return .failure(.invalid("callBackUrl", describe(.url))) }
            callBackURL = url
        }
        guard let inputValue = body["input"], !inputValue.isNull else { return .failure(.required("input")) }
        guard case .object(let fields) = inputValue else { return .failure(.invalid("input", "expected an object")) }
        return rules.validate(Input(fields: fields, prefix: "input."), callBackURL: callBackURL)
    }

    /// `POST /api/v1/veo/generate`: a flat body whose `model` picks the Veo tier.
    static func validateVeo(_ body: JSON?) -> Result<ValidatedCreate, Refusal> {
        guard let body, case .object(let fields) = body else { return .failure(Refusal(code: 422, msg: "Invalid request body")) }
        guard let modelValue = body["model"], !modelValue.isNull else { return .failure(.required("model")) }
        guard let model = modelValue.stringValue, let rules = veo(model) else {
            return .failure(.invalid("model", describe(.oneOf(veoModelIDs))))
        }
        return rules.validate(Input(fields: fields, prefix: ""), callBackURL: body["callBackUrl"]?.stringValue)
    }

    /// Unknown fields first, then missing ones, then each field's type and value, then the rules between fields.
    func validate(_ input: Input, callBackURL: String?) -> Result<ValidatedCreate, Refusal> {
        for (key, _) in input.fields where !fields.contains(where: { $0.name == key }) {
            let reason = refusedFields[key] ?? "unknown field for \(id)"
            return .failure(.invalid(input.path(key), reason))
        }
        for field in fields where field.isRequired && (input[field.name] ?? .null).isNull {
            return .failure(.required(input.path(field.name)))
        }
        for field in fields {
            guard let value = input[field.name] else { continue }
            if let refusal = Self.check(value, against: field.type, path: input.path(field.name)) { return .failure(refusal) }
        }
        for check in checks {
            if let refusal = check(input) { return .failure(refusal) }
        }
        var images: [String] = []
        for name in imageFields {
            switch input[name] {
            case .string(let url)?: images.append(url)
            case .array(let items)?: images += items.compactMap(\.stringValue)
            default: break
            }
        }
        let aspect = input.string("aspect_ratio") ?? input.string("aspectRatio")
        return .success(ValidatedCreate(rules: self, input: input, callBackURL: callBackURL, prompt: input.string("prompt") ?? "",
                                        imageURLs: images, priceMilliCredits: priceMilliCredits(input),
                                        isPortrait: ["9:16", "3:4", "2:3"].contains(aspect ?? "")))
    }

    // MARK: - One value

    /// Whether `value` has the JSON type and an allowed value; the refusal names the field.
    static func check(_ value: JSON, against type: FieldType, path: String) -> Refusal? {
        let wrong = Refusal.invalid(path, describe(type))
        switch type {
        case .text(let lengths):
            guard let text = value.stringValue, lengths.contains(text.count) else { return wrong }
        case .url:
            guard let text = value.stringValue, isHTTPURL(text) else { return wrong }
        case .oneOf(let allowed):
            guard let text = value.stringValue, allowed.contains(text) else { return wrong }
        case .ratio(let allowed):
            guard let text = value.stringValue else { return wrong }
            // What Kie answers for an aspect ratio Veo does not offer (live, EB 4.7.1).
            guard allowed.contains(text) else { return Refusal(code: 422, msg: "Ratio error") }
        case .integer(let range, let extra):
            guard let number = integer(value), range.contains(number) || extra.contains(number) else { return wrong }
        case .anyInteger:
            guard integer(value) != nil else { return wrong }
        case .boolean:
            guard case .bool = value else { return wrong }
        case .urls(let counts):
            guard case .array(let items) = value, counts.contains(items.count) else { return wrong }
            for (index, item) in items.enumerated() {
                guard let text = item.stringValue, isHTTPURL(text) else { return .invalid("\(path)[\(index)]", describe(.url)) }
            }
        case .objects(let counts, let itemFields):
            guard case .array(let items) = value, counts.contains(items.count) else { return wrong }
            for (index, item) in items.enumerated() {
                let itemPath = "\(path)[\(index)]"
                guard case .object(let members) = item else { return .invalid(itemPath, "expected an object") }
                for (key, _) in members where !itemFields.contains(where: { $0.name == key }) {
                    return .invalid("\(itemPath).\(key)", "unknown field")
                }
                for field in itemFields {
                    guard let member = item[field.name], !member.isNull else {
                        if field.isRequired { return .required("\(itemPath).\(field.name)") }
                        continue
                    }
                    if let refusal = check(member, against: field.type, path: "\(itemPath).\(field.name)") { return refusal }
                }
            }
        case .array:
            guard case .array = value else { return wrong }
        }
        return nil
    }

    /// A whole JSON number (`5` or `5.0`; not `"5"`, `5.5` or `true`).
    private static func integer(_ value: JSON) -> Int? { value.intValue }

    static func isHTTPURL(_ text: String) -> Bool {
        guard let parts = URLComponents(string: text), let scheme = parts.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parts.host, !host.isEmpty else { return false }
        return true
    }

    /// What a field of this type must hold, for the message: `expected a string, one of "3".."15"`.
    static func describe(_ type: FieldType) -> String {
        switch type {
        case .text(let lengths):
            if lengths.upperBound == Int.max { return lengths.lowerBound == 0 ? "expected a string" : "expected a non-empty string" }
            if lengths.lowerBound == 0 { return "expected a string of at most \(lengths.upperBound) characters" }
            return "expected a string of \(lengths.lowerBound)..\(lengths.upperBound) characters"
        case .url:
            return "expected a string holding an http(s) URL"
        case .oneOf(let allowed), .ratio(let allowed):
            return "expected a string, one of \(listed(allowed))"
        case .integer(let range, let extra):
            return "expected an integer, \(range.lowerBound)..\(range.upperBound)" + extra.map { " or \($0)" }.joined()
        case .anyInteger:
            return "expected an integer"
        case .boolean:
            return "expected a boolean (true or false)"
        case .urls(let counts):
            return "expected an array of \(counted(counts)) http(s) URL strings"
        case .objects(let counts, let itemFields):
            return "expected an array of \(counted(counts)) objects {\(itemFields.map(\.name).joined(separator: ", "))}"
        case .array:
            return "expected an array"
        }
    }

    /// `"480p", "720p"`, or `"3".."15"` for a run of whole numbers.
    private static func listed(_ values: [String]) -> String {
        let numbers = values.compactMap { Int($0) }
        if values.count > 3, numbers.count == values.count, zip(numbers, numbers.dropFirst()).allSatisfy({ $1 == $0 + 1 }) {
            return "\"\(values[0])\"..\"\(values[values.count - 1])\""
        }
        return values.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    private static func counted(_ counts: ClosedRange<Int>) -> String {
        if counts.upperBound == Int.max { return "at least \(counts.lowerBound)" }
        if counts.lowerBound == counts.upperBound { return "exactly \(counts.lowerBound)" }
        if counts.lowerBound == 0 { return "at most \(counts.upperBound)" }
        return "\(counts.lowerBound)..\(counts.upperBound)"
    }
}
