import Foundation

/// A VietQR payload: the EMVCo merchant-presented QR that NAPAS 247 banking apps scan to prefill a transfer
/// to an account (reference `payments-vietnam.md` §1).
public struct VietQR: Equatable, Sendable {
    /// The bank's 6-digit NAPAS BIN, e.g. `970436` for Vietcombank.
    public var bin: String
    /// The beneficiary account number, 1–19 digits.
    public var account: String
    /// The amount in VND; nil makes a static QR (point of initiation `11`) the payer fills in.
    public var amountVND: Int64?
    /// The transfer content (62.08): the payment code the notification brings back.
    public var content: String?
    /// An optional bill number (62.01).
    public var billNumber: String?

    public static let napasGUID = "A000000727"
    public static let transferToAccountService = "QRIBFTTA"
    public static let maxAmountVND: Int64 = 999_999_999_999
    public static let maxContentLength = 25

    public init(bin: String, account: String, amountVND: Int64? = nil, content: String? = nil, billNumber: String? = nil) {
        self.bin = bin
        self.account = account
        self.amountVND = amountVND
        self.content = content
        self.billNumber = billNumber
    }

    /// Why a payload cannot be built or read.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case invalidBIN(String)
        case invalidAccount(String)
        case invalidAmount(Int64)
        case invalidContent(String)
        case invalidBillNumber(String)
        case malformed(String)
        case crcMismatch(expected: String, found: String)
        case unsupported(String)

        public var description: String {
            switch self {
            case .invalidBIN(let v): return "bank BIN must be 6 digits, got \"\(v)\""
            case .invalidAccount(let v): return "account number must be 1–19 digits, got \"\(v)\""
            case .invalidAmount(let v): return "amount must be 1…\(VietQR.maxAmountVND) VND, got \(v)"
            case .invalidContent(let v): return "transfer content must be 1–\(VietQR.maxContentLength) characters of A–Z, a–z, 0–9 and space, got \"\(v)\""
            case .invalidBillNumber(let v): return "bill number must be 1–25 characters of A–Z, a–z, 0–9 and space, got \"\(v)\""
            case .malformed(let why): return "not a VietQR payload: \(why)"
            case .crcMismatch(let expected, let found): return "VietQR CRC mismatch: computed \(expected), payload says \(found)"
            case .unsupported(let why): return "unsupported VietQR payload: \(why)"
            }
        }
    }

    /// The payload text, validated, ending with its CRC.
    public func payload() throws -> String {
        try validate()
        let beneficiary = Self.tlv("00", bin) + Self.tlv("01", account)
        let merchant = Self.tlv("00", Self.napasGUID) + Self.tlv("01", beneficiary) + Self.tlv("02", Self.transferToAccountService)
        var text = Self.tlv("00", "01") + Self.tlv("01", amountVND == nil ? "11" : "12") + Self.tlv("38", merchant) + Self.tlv("53", "704")
        if let amountVND { text += Self.tlv("54", String(amountVND)) }
        text += Self.tlv("58", "VN")
        var additional = ""
        if let billNumber { additional += Self.tlv("01", billNumber) }
        if let content { additional += Self.tlv("08", content) }
        if !additional.isEmpty { text += Self.tlv("62", additional) }
        text += "6304"
        return text + Self.crcHex(text)
    }

    public func validate() throws {
        guard bin.count == 6, Self.isDigits(bin) else { throw Failure.invalidBIN(bin) }
        guard (1...19).contains(account.count), Self.isDigits(account) else { throw Failure.invalidAccount(account) }
        if let amountVND, !(1...Self.maxAmountVND).contains(amountVND) { throw Failure.invalidAmount(amountVND) }
        if let content, !Self.isAllowedText(content) { throw Failure.invalidContent(content) }
        if let billNumber, !Self.isAllowedText(billNumber) { throw Failure.invalidBillNumber(billNumber) }
    }

    /// Reads a payload back (the CRC first), refusing anything that is not a NAPAS transfer-to-account QR.
    public static func decode(_ payload: String) throws -> VietQR {
        guard payload.allSatisfy({ $0.isASCII }) else { throw Failure.malformed("not ASCII") }
        guard payload.utf8.count >= 8 else { throw Failure.malformed("too short") }
        let body = String(payload.dropLast(4))
        let found = String(payload.suffix(4))
        guard body.hasSuffix("6304") else { throw Failure.malformed("no CRC field (63) at the end") }
        let expected = crcHex(body)
        guard expected == found else { throw Failure.crcMismatch(expected: expected, found: found) }
        let fields = try parseTLV(payload)
        func field(_ id: String) -> String? { fields.first(where: { $0.id == id })?.value }
        guard fields.first?.id == "00", fields.first?.value == "01" else { throw Failure.malformed("payload format indicator (00) must come first and be 01") }
        guard let merchantText = field("38") else { throw Failure.unsupported("no NAPAS merchant account (38)") }
        let merchant = try parseTLV(merchantText)
        func sub(_ list: [(id: String, value: String)], _ id: String) -> String? { list.first(where: { $0.id == id })?.value }
        guard sub(merchant, "00") == napasGUID else { throw Failure.unsupported("GUID is not \(napasGUID)") }
        guard sub(merchant, "02") == transferToAccountService else { throw Failure.unsupported("service is not \(transferToAccountService)") }
        guard let beneficiaryText = sub(merchant, "01") else { throw Failure.malformed("no beneficiary (38.01)") }
        let beneficiary = try parseTLV(beneficiaryText)
        guard let bin = sub(beneficiary, "00"), let account = sub(beneficiary, "01") else { throw Failure.malformed("beneficiary without BIN or account") }
        guard field("53") == "704" else { throw Failure.unsupported("currency is not 704 (VND)") }
        guard field("58") == "VN" else { throw Failure.unsupported("country is not VN") }
        var amount: Int64?
        if let amountText = field("54") {
            guard isDigits(amountText), let value = Int64(amountText) else { throw Failure.malformed("amount (54) is not an integer: \(amountText)") }
            amount = value
        }
        var content: String?
        var billNumber: String?
        if let additionalText = field("62") {
            let additional = try parseTLV(additionalText)
            content = sub(additional, "08")
            billNumber = sub(additional, "01")
        }
        let initiation = field("01")
        guard initiation == (amount == nil ? "11" : "12") else { throw Failure.malformed("point of initiation (01) \(initiation ?? "missing") does not match the amount") }
        let result = VietQR(bin: bin, account: account, amountVND: amount, content: content, billNumber: billNumber)
        try result.validate()
        return result
    }

    /// Splits one level of TLV fields: 2-digit id, 2-digit decimal length, value.
    public static func parseTLV(_ text: String) throws -> [(id: String, value: String)] {
        let bytes = Array(text.utf8)
        var fields: [(id: String, value: String)] = []
        var index = 0
        while index < bytes.count {
            guard index + 4 <= bytes.count else { throw Failure.malformed("truncated field header at \(index)") }
            let id = String(decoding: bytes[index..<index + 2], as: UTF8.self)
            let lengthText = String(decoding: bytes[index + 2..<index + 4], as: UTF8.self)
            guard isDigits(id), isDigits(lengthText), let length = Int(lengthText) else { throw Failure.malformed("bad field header \(id)\(lengthText) at \(index)") }
            let start = index + 4
            guard start + length <= bytes.count else { throw Failure.malformed("field \(id) runs past the end") }
            fields.append((id, String(decoding: bytes[start..<start + length], as: UTF8.self)))
            index = start + length
        }
        return fields
    }

    /// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor.
    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }

    public static func crcHex(_ text: String) -> String {
        let value = crc16(text.utf8)
        let hex = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - hex.count) + hex
    }

    static func tlv(_ id: String, _ value: String) -> String {
        let length = value.utf8.count
        return id + (length < 10 ? "0" : "") + String(length) + value
    }

    static func isDigits(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Banks reject accented or punctuated transfer content; the payment code never needs more.
    static func isAllowedText(_ text: String) -> Bool {
        (1...maxContentLength).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x20
        }
    }
}
