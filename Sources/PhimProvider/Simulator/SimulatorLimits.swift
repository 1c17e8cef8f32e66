import Foundation

/// The times of the events of the last `seconds`, oldest first; times are added in order.
struct SlidingWindow {
    let seconds: TimeInterval
    private var times: [Date] = []
    /// Index of the oldest time still inside the window (dropping from the front of an array
    /// at every create would cost a copy of the whole window each time).
    private var start = 0

    init(seconds: TimeInterval) { self.seconds = seconds }

    var count: Int { times.count - start }

    mutating func forget(before now: Date) {
        while start < times.count, now.timeIntervalSince(times[start]) >= seconds { start += 1 }
        if start > 1024, start * 2 > times.count {
            times.removeFirst(start)
            start = 0
        }
    }

    mutating func add(_ time: Date) { times.append(time) }
}

/// When each running task ends, as a binary min-heap: the soonest end is always first.
struct EndTimes {
    private var heap: [Date] = []

    var count: Int { heap.count }

    mutating func add(_ end: Date) {
        heap.append(end)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Drops every end at or before `now`.
    mutating func removeEnded(by now: Date) {
        while let first = heap.first, first <= now {
            heap.swapAt(0, heap.count - 1)
            heap.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count, heap[left] < heap[smallest] { smallest = left }
                if right < heap.count, heap[right] < heap[smallest] { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }
}
