import Foundation
import PhimSupport

/// The demo account's password is public. Outside demo mode (a real provider key) it must not
/// sign in or spend, so every start disables it through the operators' own path (its sessions
/// end, its keys are refused, an audit entry by "system"). Back in demo mode, it is let in again
/// only when "system" was what shut it out: an operator's own disable stands.
public enum DemoAccount {
    static let actor = Administration.Actor(userID: nil, label: "system")

    /// Disables the demo account if it exists and is enabled; returns whether it did.
    @discardableResult
    public static func disableOutsideDemoMode(email: String, clock: AppClock, on db: Database) throws -> Bool {
        guard let user = try find(email, clock: clock, on: db), !user.isDisabled else { return false }
        let after = try Administration(clock: clock).setDisabled(true, userID: user.id,
                                                                 reason: "not in demo mode (KIE_API_KEY is set): the demo account's password is public",
                                                                 by: actor, on: db)
        Log.warning("demo account disabled: not in demo mode, and its password is public", ["user_id": after.id])
        return after.isDisabled
    }

    /// Enables the demo account again if "system" disabled it last; returns whether it did.
    @discardableResult
    public static func enableInDemoMode(email: String, clock: AppClock, on db: Database) throws -> Bool {
        guard let user = try find(email, clock: clock, on: db), user.isDisabled else { return false }
        let last = try db.firstRow("""
            SELECT actor FROM admin_actions
            WHERE target_user_id = :user AND action IN ('account.disable', 'account.enable')
            ORDER BY created_at DESC, rowid DESC LIMIT 1
            """, ["user": .text(user.id)])
        guard last?.string("actor") == actor.label else { return false }
        try Administration(clock: clock).setDisabled(false, userID: user.id, reason: "demo mode: the demo account is in use again",
                                                     by: actor, on: db)
        Log.warning("demo account enabled again: demo mode", ["user_id": user.id])
        return true
    }

    private static func find(_ email: String, clock: AppClock, on db: Database) throws -> User? {
        do { return try Administration(clock: clock).account(email: email, on: db) } catch AppError.userNotFound { return nil }
    }
}
