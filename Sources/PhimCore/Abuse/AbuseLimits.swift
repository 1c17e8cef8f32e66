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

    var loginPerAccount: RateLimiter.Rule { .init(name: "login-account", limit: settings.loginFailuresPerAccount, windowSeconds: 900) }
    var loginPerAddress: RateLimiter.Rule { .init(name: "login-address", limit: settings.loginFailuresPerAddress, windowSeconds: 900) }
    var signupPerAddress: RateLimiter.Rule { .init(name: "signup-address", limit: settings.signupsPerAddressPerHour, windowSeconds: 3_600) }
    var createPerAccount: RateLimiter.Rule { .init(name: "create-account", limit: settings.createsPerMinute, windowSeconds: 60) }

    /// Before a password is even looked at: refused while either failure count is spent, so a
    /// guesser learns nothing more until the window ends.
    public func checkSignIn(email: String, address: String, on db: Database) throws {
        try limiter.refuseIfSpent(loginPerAccount, key: email.normalizedEmail, on: db, error: AppError.tooManyLoginAttempts)
        try limiter.refuseIfSpent(loginPerAddress, key: address, on: db, error: AppError.tooManyLoginAttempts)
    }

    public func recordSignInFailure(email: String, address: String, on db: Database) throws {
        try limiter.hit(loginPerAccount, key: email.normalizedEmail, on: db)
        try limiter.hit(loginPerAddress, key: address, on: db)
    }

    public func checkSignUp(address: String, on db: Database) throws {
        try limiter.refuseIfSpent(signupPerAddress, key: address, on: db, error: AppError.tooManySignups)
    }

    public func recordSignUp(address: String, on db: Database) throws {
        try limiter.hit(signupPerAddress, key: address, on: db)
    }

    /// Counts a create inside its hold's transaction: a create refused later in that
    /// transaction rolls back and does not count.
    func countCreate(userID: String, on db: Database) throws {
        let rule = createPerAccount
        guard try limiter.hit(rule, key: userID, on: db) <= rule.limit else {
            throw AppError.tooManyCreates(retryAfter: limiter.secondsUntilReset(rule))
        }
    }
}
