import Fluent
import Vapor

extension Application {
    /// Registers every migration in the order it runs. Never edit or rename a shipped one:
    /// Fluent remembers migrations by type name. Add a new one instead.
    func registerMigrations() {
        migrations.add(CreateUser())
        migrations.add(SessionRecord.migration)
        migrations.add(CreateAPIKey())
        migrations.add(CreatePrice())
        migrations.add(SeedDefaultPrices())
        migrations.add(CreateUpload())
        migrations.add(CreateVideoJob())
        migrations.add(CreateCreditEntry())
        migrations.add(CreateRateLimitCounter())
        migrations.add(AddVideoJobLastQueriedAt())
        migrations.add(AddVideoJobDeadline())
        migrations.add(CreateWebhooks())
        migrations.add(CreateProviderBalanceCheck())
        migrations.add(AddVideoJobRequestID())
        migrations.add(AddVideoJobUserStatusIndex())
        migrations.add(CreateAdminActions())
        migrations.add(CreateProviderCallMinutes())
        migrations.add(CreateStylePresets())
        migrations.add(AddVideoJobSharing())
        migrations.add(AddVideoJobFreshURL())
    }
}
