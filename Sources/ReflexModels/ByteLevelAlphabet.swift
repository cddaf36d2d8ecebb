import Foundation

/// GPT-2's reversible byte ↔ printable-unicode mapping used by byte-level BPE.
enum ByteLevelAlphabet {
    static let byteToChar: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable.map { Character(Unicode.Scalar(UInt8($0))) }
        var map = [Character](repeating: " ", count: 256)
        for (i, b) in printable.enumerated() { map[b] = chars[i] }
        var n = 0
        for b in 0..<256 where !printable.contains(b) {
            map[b] = Character(Unicode.Scalar(UInt32(256 + n))!)
            n += 1
        }
        printable.removeAll()
        chars.removeAll()
        return map
    }()

    static let charToByte: [Character: UInt8] = {
        var m: [Character: UInt8] = [:]
        for (b, c) in byteToChar.enumerated() { m[c] = UInt8(b) }
        return m
    }()

    static func encode(_ s: String) -> String { String(s.utf8.map { byteToChar[Int($0)] }) }


    static func decode(_ s: String) -> String {
        let bytes = s.unicodeScalars.compactMap { charToByte[Character($0)] }
        return String(decoding: bytes, as: UTF8.self)
    }
}
