import CFuzzDriver
import Foundation
import FuzzTargets

// bank-fuzz: the decoders of outside bytes under libFuzzer (`make fuzz TARGET=name SECONDS=n`). The target comes from
// BANK_FUZZ_TARGET; every other argument is libFuzzer's. Built without libFuzzer (a plain `swift build`), it runs
// the files it is given through the target once each, which is how a crash's input is replayed.

let environment = ProcessInfo.processInfo.environment
guard let name = environment["BANK_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
    FileHandle.standardError.write(Data(("set BANK_FUZZ_TARGET to one of: "
        + FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ") + "\n").utf8))
    exit(2)
}
nonisolated(unsafe) var selected = target

// BANK_FUZZ_WRITE_SEEDS=DIR: write the target's seeds (valid inputs made by the real encoders) into DIR and stop.
if let directory = environment["BANK_FUZZ_WRITE_SEEDS"] {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (index, seed) in target.seeds.enumerated() {
        try Data(seed).write(to: URL(fileURLWithPath: directory).appendingPathComponent("seed-\(index)"))
    }
    print("\(target.seeds.count) seeds in \(directory)")
    exit(0)
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = bank_fuzz_run_driver(&argc, &argv) { data, size in
    selected.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data!, count: size)))
    return 0
}
if status != -1 { exit(status) }
// Not linked with libFuzzer: replay the files given.
for path in CommandLine.arguments.dropFirst() where !path.hasPrefix("-") {
    guard let bytes = FileManager.default.contents(atPath: path) else { continue }
    target.run(Array(bytes))
    print("\(path): ok")
}
