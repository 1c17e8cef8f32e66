@testable import App
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("The OpenAPI document")
struct OpenAPITests {
    @Test("is served, and names every JSON API route with its method, and nothing else")
    func documentMatchesRoutes() async throws {
        try await withTestApp { t in
            let response = try await t.tester.sendRequest(.GET, "/api/v1/openapi.json")
            #expect(response.status == .ok)
            #expect(response.headers.contentType == .json)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
            #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let documented = Set(paths.flatMap { path, item in
                item.keys.filter { $0 != "parameters" }.map { "\($0.uppercased()) \(path)" }
            })
            let routed = Set(t.app.routes.all.compactMap { route -> String? in
                guard route.path.starts(with: [.constant("api"), .constant("v1")]) else { return nil }
                let path = route.path.map { component in
                    switch component {
                    case .parameter(let name): "{\(name)}"
                    default: component.description
                    }
                }.joined(separator: "/")
                return "\(route.method.rawValue) /\(path)"
            })
            #expect(routed.subtracting(documented).isEmpty, "routes missing from the document: \(routed.subtracting(documented).sorted())")
            #expect(documented.subtracting(routed).isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
        }
    }
}
