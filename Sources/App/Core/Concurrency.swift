extension Array where Element: Sendable {
    /// `body` applied to every element, at most `width` at a time (so a provider or a receiver
    /// is never sent more than that many requests at once); results in no particular order.
    ///
    /// Let `T` be a struct, not a tuple: with a tuple holding `Result<_, any Error>` as a task
    /// group's child result, Swift 6.3.1's release builds read garbage (the reconciler applied
    /// polls to job ids made of string bytes, so no job finished without callbacks) while debug
    /// builds were fine. `bench/run.sh` and the release smoke run in `.ci/run` would show it again.
    func concurrentMap<T: Sendable>(width: Int, _ body: @escaping @Sendable (Element) async -> T) async -> [T] {
        let width = Swift.max(1, width)
        var results: [T] = []
        var start = 0
        while start < count {
            let batch = Array(self[start..<Swift.min(start + width, count)])
            start += width
            let done = await withTaskGroup(of: T.self, returning: [T].self) { group in
                for element in batch { group.addTask { await body(element) } }
                var collected: [T] = []
                for await value in group { collected.append(value) }
                return collected
            }
            results.append(contentsOf: done)
        }
        return results
    }
}
