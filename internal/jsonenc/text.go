package jsonenc

import "unicode/utf8"

// plain marks the ASCII bytes a JSON string carries as they are with
// encoding/json's HTML-safe escaping: printable, and none of " \ < > &.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		switch c {
		case '"', '\\', '<', '>', '&':
		default:
			t[c] = true
		}
	}
	return t
}()

// inString marks the bytes a string may hold that need no closer look
// from the checker: not a control byte, quote, backslash, < > &, or 0xE2.
var inString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		switch c {
		case '"', '\\', '<', '>', '&', 0xe2:
		default:
			t[c] = true
		}
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as encoding/json quotes strings: the
// short escapes for quote, backslash, \b \f \n \r \t; \u00XX for other
// control bytes and for < > &; U+FFFD for bytes that are not UTF-8; and
// U+2028 and U+2029 escaped (JavaScript would end a line at them).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// compactAndSafe reports whether data is one JSON value that encoding/json
// would write back unchanged after a Marshaler returned it: valid, with
// no whitespace between tokens, and no byte it would escape for HTML
// (< > &, and the lead byte of U+2028 and U+2029, which it escapes
// too). It errs towards false: false only costs encoding/json's pass.
func compactAndSafe(data []byte) bool {
	p := checker{data: data}
	return p.value(0) && p.i == len(data)
}

type checker struct {
	data []byte
	i    int
}

// maxNesting is below encoding/json's own limit, so that anything deeper
// is left to it.
const maxNesting = 1000

func (p *checker) value(depth int) bool {
	if p.i >= len(p.data) || depth > maxNesting {
		return false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		p.i++
		if p.i < len(p.data) && p.data[p.i] == '}' {
			p.i++
			return true
		}
		for {
			if !p.str() || p.i >= len(p.data) || p.data[p.i] != ':' {
				return false
			}
			p.i++
			if !p.value(depth + 1) {
				return false
			}
			if more, ok := p.after('}'); !more {
				return ok
			}
		}
	case c == '[':
		p.i++
		if p.i < len(p.data) && p.data[p.i] == ']' {
			p.i++
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			if more, ok := p.after(']'); !more {
				return ok
			}
		}
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		return p.literal("true") || p.literal("false") || p.literal("null")
	}
}

// after reads what follows a member of an object or array: a comma
// (more members follow) or the closing byte (ok, the value ends here);
// anything else ends the value as invalid.
func (p *checker) after(closing byte) (more, ok bool) {
	if p.i >= len(p.data) {
		return false, false
	}
	switch p.data[p.i] {
	case ',':
		p.i++
		return true, true
	case closing:
		p.i++
		return false, true
	}
	return false, false
}

func (p *checker) literal(word string) bool {
	if len(p.data)-p.i >= len(word) && string(p.data[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

// str checks a string: no control bytes, only JSON's escapes, nothing
// encoding/json would escape for HTML.
func (p *checker) str() bool {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return false
	}
	for p.i++; p.i < len(p.data); p.i++ {
		if inString[p.data[p.i]] {
			continue
		}
		switch c := p.data[p.i]; {
		case c == '"':
			p.i++
			return true
		case c == '\\':
			p.i++
			if p.i >= len(p.data) {
				return false
			}
			switch p.data[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(p.data)-p.i < 5 {
					return false
				}
				for _, h := range p.data[p.i+1 : p.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				p.i += 4
			default:
				return false
			}
		case c < 0x20, c == '<', c == '>', c == '&', c == 0xe2:
			return false
		}
	}
	return false
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *checker) number() bool {
	d := p.data
	if d[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(d) && d[p.i] == '0':
		p.i++
	case p.i < len(d) && d[p.i] >= '1' && d[p.i] <= '9':
		for p.i < len(d) && d[p.i] >= '0' && d[p.i] <= '9' {
			p.i++
		}
	default:
		return false
	}
	if p.i < len(d) && d[p.i] == '.' {
		p.i++
		if !p.digits() {
			return false
		}
	}
	if p.i < len(d) && (d[p.i] == 'e' || d[p.i] == 'E') {
		p.i++
		if p.i < len(d) && (d[p.i] == '+' || d[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return false
		}
	}
	return true
}

func (p *checker) digits() bool {
	start := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}
