import ArgumentParser
import Foundation
import PhimCore

/// `phim payments qr`: a VietQR payload and its SVG, built offline; hidden until orders use it (issue 25).
struct PaymentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payments", abstract: "Bank-transfer payments (VietQR).",
        shouldDisplay: false, subcommands: [QR.self])

    struct QR: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the VietQR payload for a transfer and write its QR as SVG.")
        @Option(help: "The bank's 6-digit NAPAS BIN (Vietcombank 970436).") var bin: String
        @Option(help: "The account number, 1–19 digits.") var account: String
        @Option(help: "The amount in VND (omit for a static QR).") var amount: Int64?
        @Option(help: "The transfer content: the payment code, up to 25 of A–Z, a–z, 0–9, space.") var content: String?
        @Option(help: "Where to write the SVG.") var svg: String?

        func run() throws {
            let payload: String
            do {
                payload = try VietQR(bin: bin, account: account, amountVND: amount, content: content).payload()
            } catch let failure as VietQR.Failure {
                throw ValidationError(failure.description)
            }
            if let svg {
                try QRCodeSVG(text: payload).svg.write(toFile: svg, atomically: true, encoding: .utf8)
            }
            print(payload)
        }
    }
}
