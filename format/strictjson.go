package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting; the deepest artifact field
// (response.fingerprint.components.NAME) is at depth 3.
const maxJSONDepth = 4

// maxJSONMembers bounds the members of one object (the largest is a
// fingerprint's components, at most MaxComponents).
const maxJSONMembers = 32

// checkJSON enforces, in one pass over the bytes, the rules that
// encoding/json does not: valid UTF-8 and JSON syntax, one object whose
// first member is "format" (its string value is returned), member names
// written literally as lowercase ASCII tokens (so that encoding/json's
// case-insensitive matching can only match exactly), no duplicate names
// at any level, no null, bounded nesting, and nothing after the object.
func checkJSON(b []byte) (format string, err error) {
	if !utf8.Valid(b) {
		return "", errorf(ErrMalformed, "payload is not valid UTF-8")
	}
	c := &jsonChecker{b: b}
	c.ws()
	if c.i >= len(b) || b[c.i] != '{' {
		return "", errorf(ErrMalformed, "payload is not a JSON object")
	}
	if err := c.object("", 1); err != nil {
		return "", err
	}
	c.ws()
	if c.i != len(b) {
		return "", errorf(ErrMalformed, "payload has data after the JSON object")
	}
	return c.format, nil
}

type jsonChecker struct {
	b      []byte
	i      int
	format string
}

func (c *jsonChecker) ws() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *jsonChecker) syntax(what string) error {
	if c.i >= len(c.b) {
		return errorf(ErrMalformed, "payload JSON ends early")
	}
	return errorf(ErrMalformed, "payload JSON: %s at byte %d", what, c.i)
}

// object checks an object starting at '{'.
func (c *jsonChecker) object(path string, depth int) error {
	if depth > maxJSONDepth {
		return errorf(ErrMalformed, "payload nests deeper than %d levels at %q", maxJSONDepth, path)
	}
	c.i++ // past '{'
	// Offsets of the names seen so far: no allocation, and the bound on
	// members keeps the duplicate search short.
	var seen [maxJSONMembers][2]int
	n := 0
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == '}' {
		c.i++
		if depth == 1 {
			return errorf(ErrMalformed, "payload is an empty object; the first field must be \"format\"")
		}
		return nil
	}
	for {
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != '"' {
			return c.syntax("expected a field name")
		}
		start := c.i + 1
		end := start
		for end < len(c.b) && c.b[end] != '"' && c.b[end] != '\\' && c.b[end] >= 0x20 {
			end++
		}
		if end >= len(c.b) {
			return c.syntax("unterminated field name")
		}
		if c.b[end] != '"' {
			c.i = end
			return errorf(ErrMalformed, "a field name at byte %d uses an escape or control character; names are written literally", start)
		}
		key := c.b[start:end]
		name := string(key)
		if path != "" {
			name = path + "." + name
		}
		if !validJSONKey(key) {
			return errorf(ErrMalformed, "field %q is not a valid field name (lowercase a-z, 0-9, _ and - only)", name)
		}
		if depth == 1 && n == 0 && string(key) != "format" {
			return errorf(ErrMalformed, "the first field must be \"format\", found %q", key)
		}
		for _, s := range seen[:n] {
			if string(c.b[s[0]:s[1]]) == string(key) {
				return errorf(ErrMalformed, "field %q appears twice", name)
			}
		}
		if n == len(seen) {
			return errorf(ErrMalformed, "object %q has more than %d fields", path, maxJSONMembers)
		}
		seen[n] = [2]int{start, end}
		n++
		c.i = end + 1
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			return c.syntax("expected ':'")
		}
		c.i++
		c.ws()
		if depth == 1 && n == 1 {
			if c.i >= len(c.b) || c.b[c.i] != '"' {
				return fieldError("format", "is not a string")
			}
			vs := c.i
			if err := c.str(); err != nil {
				return err
			}
			c.format = string(c.b[vs+1 : c.i-1])
		} else if err := c.value(name, depth); err != nil {
			return err
		}
		if done, err := c.separator('}'); done || err != nil {
			return err
		}
	}
}

// separator reads the ',' between members or elements, or the closing
// bracket, reporting done when it was the closing one.
func (c *jsonChecker) separator(closing byte) (done bool, err error) {
	c.ws()
	switch {
	case c.i >= len(c.b):
		return false, c.syntax("")
	case c.b[c.i] == ',':
		c.i++
		return false, nil
	case c.b[c.i] == closing:
		c.i++
		return true, nil
	}
	return false, c.syntax("expected ',' or '" + string(closing) + "'")
}

func validJSONKey(k []byte) bool {
	if len(k) == 0 || len(k) > 64 || k[0] == '_' || k[0] == '-' {
		return false
	}
	for _, ch := range k {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

// value checks one value at c.i.
func (c *jsonChecker) value(path string, depth int) error {
	if c.i >= len(c.b) {
		return c.syntax("")
	}
	switch ch := c.b[c.i]; {
	case ch == '{':
		return c.object(path, depth+1)
	case ch == '[':
		if depth+1 > maxJSONDepth {
			return errorf(ErrMalformed, "payload nests deeper than %d levels at %q", maxJSONDepth, path)
		}
		c.i++
		c.ws()
		if c.i < len(c.b) && c.b[c.i] == ']' {
			c.i++
			return nil
		}
		for {
			c.ws()
			if err := c.value(path+"[]", depth+1); err != nil {
				return err
			}
			if done, err := c.separator(']'); done || err != nil {
				return err
			}
		}
	case ch == '"':
		return c.str()
	case ch == '-' || ch >= '0' && ch <= '9':
		return c.number()
	case c.lit("true"), c.lit("false"):
		return nil
	case c.lit("null"):
		return errorf(ErrMalformed, "field %q is null; omit optional fields instead", path)
	}
	return c.syntax("unexpected character")
}

func (c *jsonChecker) lit(word string) bool {
	if len(c.b)-c.i >= len(word) && string(c.b[c.i:c.i+len(word)]) == word {
		c.i += len(word)
		return true
	}
	return false
}

// str checks a string starting at '"', including its escapes.
func (c *jsonChecker) str() error {
	c.i++
	for c.i < len(c.b) {
		switch ch := c.b[c.i]; {
		case ch == '"':
			c.i++
			return nil
		case ch < 0x20:
			return c.syntax("control character in a string")
		case ch == '\\':
			c.i++
			if c.i >= len(c.b) {
				return c.syntax("")
			}
			switch c.b[c.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.i++
			case 'u':
				if len(c.b)-c.i < 5 {
					return c.syntax("")
				}
				for _, h := range c.b[c.i+1 : c.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return c.syntax("bad \\u escape")
					}
				}
				c.i += 5
			default:
				return c.syntax("bad escape")
			}
		default:
			c.i++
		}
	}
	return c.syntax("")
}

// number checks a JSON number (RFC 8259 grammar).
func (c *jsonChecker) number() error {
	digits := func() int {
		s := c.i
		for c.i < len(c.b) && c.b[c.i] >= '0' && c.b[c.i] <= '9' {
			c.i++
		}
		return c.i - s
	}
	if c.b[c.i] == '-' {
		c.i++
	}
	if c.i < len(c.b) && c.b[c.i] == '0' {
		c.i++
	} else if digits() == 0 {
		return c.syntax("bad number")
	}
	if c.i < len(c.b) && c.b[c.i] == '.' {
		c.i++
		if digits() == 0 {
			return c.syntax("bad number")
		}
	}
	if c.i < len(c.b) && (c.b[c.i] == 'e' || c.b[c.i] == 'E') {
		c.i++
		if c.i < len(c.b) && (c.b[c.i] == '+' || c.b[c.i] == '-') {
			c.i++
		}
		if digits() == 0 {
			return c.syntax("bad number")
		}
	}
	return nil
}

// decodeChecked decodes b, which [checkJSON] accepted, into v, refusing
// unknown fields and naming the field whose value has the wrong type.
func decodeChecked(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if strings.HasPrefix(field, "plain") {
				// The embedded type that carries the fields is an
				// implementation detail: "plainResponse.limits.clients".
				_, field, _ = strings.Cut(field, ".")
			}
			return errorf(ErrMalformed, "field %q: want %s, found %s", field, te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.TrimPrefix(err.Error(), "json: unknown field ")
			return errorf(ErrMalformed, "unknown field %s; this version of airlock does not know it", name)
		default:
			if name := failingField(b, v); name != "" {
				return errorf(ErrMalformed, "field %q: %v", name, unwrapJSON(err))
			}
			return errorf(ErrMalformed, "payload: %v", unwrapJSON(err))
		}
	}
	return nil
}

// unwrapJSON strips encoding/json's "json: " prefixes from errors that our
// own UnmarshalJSON methods return.
func unwrapJSON(err error) string {
	return strings.TrimPrefix(fmt.Sprint(err), "json: ")
}

// failingField finds the top-level field whose value fails to decode, for
// errors from our own UnmarshalJSON methods, which encoding/json does not
// annotate with the field name.
func failingField(b []byte, v any) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	fields := map[string]reflect.Type{}
	var collect func(t reflect.Type)
	collect = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous {
				collect(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f.Type
		}
	}
	collect(reflect.TypeOf(v))
	for name, raw := range m {
		if t, ok := fields[name]; ok {
			if json.Unmarshal(raw, reflect.New(t).Interface()) != nil {
				return name
			}
		}
	}
	return ""
}
