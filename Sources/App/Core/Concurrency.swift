extension Array where Element: Sendable {
    /// `body` applied to every element, at most `width` at a time (so a provider or a receiver
    /// is never sent more than that many requests at once); results in no particular order.
    func concurrentMap<T: Sendable>(width: Int, _ body: @escaping @Sendable (Element) async -> T) async -> [T] {
        var results: [T] = []
        results.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: Swift.max(1, width)) {
            let batch = self[start..<Swift.min(start + width, count)]
            results += await withTaskGroup(of: T.self) { group in
                for element in batch { group.addTask { await body(element) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }
        return results
    }
}
