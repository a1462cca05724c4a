/// Splits a SQL script into statements at top-level semicolons, leaving semicolons inside
/// string literals, quoted identifiers, comments and dollar-quoted bodies alone. Migrations run
/// statement by statement because the extended query protocol takes one statement at a time.
enum SQLScript {
    static func statements(_ script: String) -> [String] {
        let characters = Array(script)
        var statements: [String] = []
        var current = ""
        var index = 0
        func peek(_ offset: Int) -> Character? {
            index + offset < characters.count ? characters[index + offset] : nil
        }
        func flush() {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty, !isOnlyComments(trimmed) { statements.append(trimmed) }
            current = ""
        }
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "'", "\"":
                current.append(character)
                index += 1
                while index < characters.count {
                    current.append(characters[index])
                    if characters[index] == character {
                        if peek(1) == character { index += 1; current.append(characters[index]) } else { break }
                    }
                    index += 1
                }
            case "-" where peek(1) == "-":
                while index < characters.count, characters[index] != "\n" {
                    current.append(characters[index])
                    index += 1
                }
                continue
            case "/" where peek(1) == "*":
                current.append("/*")
                index += 2
                while index < characters.count, !(characters[index] == "*" && peek(1) == "/") {
                    current.append(characters[index])
                    index += 1
                }
                current.append("*/")
                index += 1
            case "$":
                // A dollar quote: $tag$ … $tag$ (tag may be empty).
                var end = index + 1
                while end < characters.count, characters[end].isLetter || characters[end].isNumber || characters[end] == "_" { end += 1 }
                if end < characters.count, characters[end] == "$" {
                    let tag = String(characters[index...end])
                    current += tag
                    index = end + 1
                    let tagCharacters = Array(tag)
                    while index < characters.count {
                        if characters[index] == "$", index + tagCharacters.count <= characters.count,
                            Array(characters[index..<index + tagCharacters.count]) == tagCharacters
                        {
                            current += tag
                            index += tagCharacters.count - 1
                            break
                        }
                        current.append(characters[index])
                        index += 1
                    }
                } else {
                    current.append(character)
                }
            case ";":
                flush()
            default:
                current.append(character)
            }
            index += 1
        }
        flush()
        return statements
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") || $0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
