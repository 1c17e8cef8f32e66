import Foundation
import PhimSupport

/// The limits that make guessing passwords, mass sign-ups and runaway scripts expensive for the
/// caller and cheap for us. Counted in the database (`RateLimiter`), shared by every process.
public struct AbuseLimits: Sendable {
    public var settings: Settings
    public var limiter: RateLimiter

    public init(settings: Settings, clock: AppClock) {
        self.settings = settings
        limiter = RateLimiter(clock: clock)
    }

    /// Wrong passwords for one account from one address: failures from elsewhere cannot lock an
    /// account (the admin's) for the people who use it.
    var loginPerAccountAndAddress: RateLimiter.Rule {
        .init(name: "login-account-address", limit: settings.loginFailuresPerAccount, windowSeconds: 900)
    }
    var loginPerAddress: RateLimiter.Rule { .init(name: "login-address", limit: settings.loginFailuresPerAddress, windowSeconds: 900) }
    var signupPerAddress: RateLimiter.Rule { .init(name: "signup-address", limit: settings.signupsPerAddressPerHour, windowSeconds: 3_600) }
    var createPerAccount: RateLimiter.Rule { .init(name: "create-account", limit: settings.createsPerMinute, windowSeconds: 60) }

    /// Counts a password attempt before its password is hashed, in the same write as the check:
    /// parallel guesses cannot all pass a check made before any of them is counted. Refused
    /// (429) while either count is spent, so a guesser learns nothing more until the window ends.
    /// An attempt that turns out right is taken back with `forgivePasswordAttempt`.
    public func countPasswordAttempt(email: String, address: String, on db: Database) throws {
        let pair = Self.pairKey(email: email, address: address)
        try db.write {
            try limiter.refuseIfSpent(loginPerAccountAndAddress, key: pair, on: db, error: AppError.tooManyLoginAttempts)
            try limiter.refuseIfSpent(loginPerAddress, key: address, on: db, error: AppError.tooManyLoginAttempts)
            try limiter.hit(loginPerAccountAndAddress, key: pair, on: db)
            try limiter.hit(loginPerAddress, key: address, on: db)
        }
    }

    /// The password matched (or was never checked): the attempt is not a failure.
    public func forgivePasswordAttempt(email: String, address: String, on db: Database) throws {
        try db.write {
            try limiter.forgive(loginPerAccountAndAddress, key: Self.pairKey(email: email, address: address), on: db)
            try limiter.forgive(loginPerAddress, key: address, on: db)
        }
    }

    /// Counts a sign-up before its password is hashed, in the same write as the check.
    public func countSignUp(address: String, on db: Database) throws {
        try db.write {
            try limiter.refuseIfSpent(signupPerAddress, key: address, on: db, error: AppError.tooManySignups)
            try limiter.hit(signupPerAddress, key: address, on: db)
        }
    }

    /// The sign-up was never tried (hashing was busy): it does not count.
    public func forgiveSignUp(address: String, on db: Database) throws {
        try limiter.forgive(signupPerAddress, key: address, on: db)
    }

    private static func pairKey(email: String, address: String) -> String { email.normalizedEmail + "\n" + address }

    /// Counts a create inside its hold's transaction: a create refused later in that
    /// transaction rolls back and does not count.
    func countCreate(userID: String, on db: Database) throws {
        let rule = createPerAccount
        guard try limiter.hit(rule, key: userID, on: db) <= rule.limit else {
            throw AppError.tooManyCreates(retryAfter: limiter.secondsUntilReset(rule))
        }
    }
}
