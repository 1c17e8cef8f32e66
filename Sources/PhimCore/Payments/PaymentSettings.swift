import Foundation

/// Where people pay and who may tell Phim they did: the bank account VietQR names, the keys of
/// the notification services, and how long an order waits for its transfer.
public struct PaymentSettings: Sendable {
    public struct BankAccount: Sendable, Equatable {
        /// The bank's 6-digit NAPAS BIN (Vietcombank 970436, MB 970422, ...).
        public var bin: String
        /// The account number, digits only, at most 19.
        public var account: String
        /// The holder's name as the bank shows it, upper-case ASCII.
        public var accountName: String

        public init(bin: String, account: String, accountName: String) {
            self.bin = bin; self.account = account; self.accountName = accountName
        }
    }

    /// `PHIM_BANK_BIN`, `PHIM_BANK_ACCOUNT`, `PHIM_BANK_ACCOUNT_NAME`: top-ups are off while unset.
    public var bank: BankAccount?
    /// `PHIM_SEPAY_API_KEY`: SePay sends it as `Authorization: Apikey <key>`; unset, SePay's route refuses everything.
    public var sepayAPIKey: String?
    /// `PHIM_CASSO_CHECKSUM_KEY`: the key of Casso v2's `X-Casso-Signature`; unset, Casso's route refuses everything.
    public var cassoChecksumKey: String?
    /// How long an order waits for its transfer before it expires (a later payment goes to review).
    public var orderLifetimeSeconds: Int64 = 1_800
    /// Unpaid orders one account may have at once, so payment codes cannot be hoarded.
    public var pendingOrdersPerAccount = 5
    /// Demo mode: the order page offers "simulate the transfer", which posts a SePay-shaped
    /// notification to this same site through nginx (`publicBaseURL`), with `sepayAPIKey`.
    public var simulatesTransfers = false

    public var topupsEnabled: Bool { bank != nil }

    /// The bank account `phim up` uses in demo mode when none is set (a made-up Vietcombank account).
    public static let demoBank = BankAccount(bin: "970436", account: "1234567890", accountName: "PHIM DEMO")

    public init() {}

    /// Why a bank account cannot be put in a VietQR, or nil when it can.
    public static func problem(with bank: BankAccount) -> String? {
        if bank.bin.count != 6 || !bank.bin.allSatisfy(\.isASCIIDigit) { return "PHIM_BANK_BIN must be the bank's 6-digit BIN (e.g. 970436 for Vietcombank)" }
        if bank.account.isEmpty || bank.account.count > 19 || !bank.account.allSatisfy(\.isASCIIDigit) {
            return "PHIM_BANK_ACCOUNT must be the account number: 1 to 19 digits"
        }
        if bank.accountName.isEmpty || bank.accountName.count > 50
            || !bank.accountName.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }) {
            return "PHIM_BANK_ACCOUNT_NAME must be the holder's name in ASCII letters (no diacritics), at most 50 characters"
        }
        return nil
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
