import Foundation
import Leaf
import LeafKit
import Vapor

/// Where the studio's templates and static files live, and how templates find their words.
enum WebResources {
    /// `Resources/Views`, inside the module's bundle so the binary finds it wherever it runs.
    static var viewsDirectory: String { directory(of: "base", "leaf", in: "Views") }
    /// `Resources/Public`: its `static/` folder (CSS, JS, icons) is served as `/static/...`.
    static var publicDirectory: String { directory(of: "phim", "css", in: "Public/static") + "../" }

    /// The folder holding a known file of the bundle, with a trailing slash.
    private static func directory(of file: String, _ fileExtension: String, in folder: String) -> String {
        let url = Bundle.module.url(forResource: file, withExtension: fileExtension, subdirectory: "Resources/\(folder)")
        return (url?.deletingLastPathComponent().path ?? "Resources/\(folder)") + "/"
    }

    static func configureLeaf(_ app: Application) {
        let directory = viewsDirectory
        app.views.use(.leaf)
        app.leaf.configuration = LeafConfiguration(rootDirectory: directory)
        // Not `.toVisibleFiles`: a built bundle sits under `.build/`, a hidden folder. Templates
        // are named by code only, and `.toSandbox` keeps them inside the Views folder.
        app.leaf.sources = .singleSource(NIOLeafFiles(fileio: app.fileio, limits: [.toSandbox, .onlyLeafExtensions],
                                                      sandboxDirectory: directory, viewDirectory: directory))
        app.leaf.tags["t"] = TranslateTag()
    }
}

/// `#t("key")`: the text for `key` in the request's language (escaped like any other value).
/// Templates hold no words of their own; `TemplateTests` checks that.
struct TranslateTag: LeafTag {
    func render(_ ctx: LeafContext) throws -> LeafData {
        guard let key = ctx.parameters.first?.string else {
            throw LeafError(.unknownError("#t() needs a translation key"))
        }
        let language = ctx.request?.pageLanguage ?? .vi
        return .string(Localizer.shared.text(key, language))
    }
}
