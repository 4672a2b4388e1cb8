package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting; the deepest artifact field
// (response.fingerprint.components.NAME) is at depth 3.
const maxJSONDepth = 4

var jsonKeySyntax = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// checkJSON enforces the rules that encoding/json does not: valid UTF-8,
// one object whose first member is "format", object keys that are lowercase
// ASCII tokens (so that encoding/json's case-insensitive matching can only
// match exactly), no duplicate keys at any level, no null, bounded nesting,
// and nothing after the object.
func checkJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errorf(ErrMalformed, "payload is not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		return errorf(ErrMalformed, "payload is not a JSON object")
	}
	if err := walkObject(d, "", 1); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errorf(ErrMalformed, "payload has data after the JSON object")
	}
	return nil
}

func walkObject(d *json.Decoder, path string, depth int) error {
	if depth > maxJSONDepth {
		return errorf(ErrMalformed, "payload nests deeper than %d levels at %q", maxJSONDepth, path)
	}
	seen := map[string]bool{}
	for i := 0; ; i++ {
		tok, err := d.Token()
		if err != nil {
			return jsonSyntaxError(err)
		}
		if tok == json.Delim('}') {
			if depth == 1 && i == 0 {
				return errorf(ErrMalformed, "payload is an empty object; the first field must be \"format\"")
			}
			return nil
		}
		key := tok.(string) // the decoder only yields strings in key position
		name := key
		if path != "" {
			name = path + "." + key
		}
		if !jsonKeySyntax.MatchString(key) {
			return errorf(ErrMalformed, "field %q is not a valid field name (lowercase a-z, 0-9, _ and - only)", name)
		}
		if depth == 1 && i == 0 && key != "format" {
			return errorf(ErrMalformed, "the first field must be \"format\", found %q", key)
		}
		if seen[key] {
			return errorf(ErrMalformed, "field %q appears twice", name)
		}
		seen[key] = true
		if err := walkValue(d, name, depth); err != nil {
			return err
		}
	}
}

func walkValue(d *json.Decoder, path string, depth int) error {
	tok, err := d.Token()
	if err != nil {
		return jsonSyntaxError(err)
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(d, path, depth+1)
	case json.Delim('['):
		if depth+1 > maxJSONDepth {
			return errorf(ErrMalformed, "payload nests deeper than %d levels at %q", maxJSONDepth, path)
		}
		for {
			if !d.More() {
				_, err := d.Token() // the closing ']'
				return jsonSyntaxError(err)
			}
			if err := walkValue(d, path+"[]", depth+1); err != nil {
				return err
			}
		}
	case nil:
		return errorf(ErrMalformed, "field %q is null; omit optional fields instead", path)
	}
	return nil
}

func jsonSyntaxError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(ErrMalformed, "payload JSON ends early")
	}
	return errorf(ErrMalformed, "payload JSON: %v", err)
}

// decodeStrict decodes b into v after [checkJSON], refusing unknown fields
// and naming the field whose value has the wrong type.
func decodeStrict(b []byte, v any) error {
	if err := checkJSON(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return errorf(ErrMalformed, "field %q: want %s, found %s", te.Field, te.Type, te.Value)
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
