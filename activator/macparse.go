package activator

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The parsers of what the macOS sources print, without build tags so that
// they are tested on every OS (macsources_test.go, testdata/darwin). Each
// refuses output that is empty, cut short or not of the expected shape:
// a component is then missing rather than read from half an answer.

// parseIoreg returns the string-valued properties of the one
// IOPlatformExpertDevice entry that `ioreg -rd1 -c IOPlatformExpertDevice`
// prints:
//
//	+-o MacBookPro16,1  <class IOPlatformExpertDevice, id 0x100000110, registered, ...>
//	    {
//	      "IOPlatformUUID" = "0E3F6B7A-..."
//	      "serial-number" = <43303258...>
//	      ...
//	    }
//
// Properties whose value is not a quoted string (data, numbers, arrays)
// are left out. A property named twice, a second entry of the class, or
// output that ends before the entry's closing brace is an error.
func parseIoreg(out []byte) (map[string]string, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, errors.New("printed nothing")
	}
	const class = "<class IOPlatformExpertDevice,"
	props := map[string]string{}
	seen := map[string]bool{}
	entries, state := 0, 0 // state: 0 before the entry, 1 before its "{", 2 in it, 3 after it
	for l := range strings.Lines(string(out)) {
		t := strings.Trim(l, " \t\r\n|")
		if strings.HasPrefix(t, "+-o ") {
			if !strings.Contains(t, class) {
				if state == 2 {
					return nil, errors.New("an entry begins inside the IOPlatformExpertDevice entry")
				}
				continue
			}
			if entries++; entries > 1 {
				return nil, errors.New("lists more than one IOPlatformExpertDevice")
			}
			state = 1
			continue
		}
		switch state {
		case 1:
			if t == "" {
				continue
			}
			if t != "{" {
				return nil, fmt.Errorf("the IOPlatformExpertDevice entry has no properties (%q)", oneLine(t))
			}
			state = 2
		case 2:
			if t == "}" {
				state = 3
				continue
			}
			key, value, ok := ioregProperty(t)
			if !ok {
				continue // a line of a multi-line value, or one this parser does not know
			}
			if seen[key] {
				return nil, fmt.Errorf("names the property %q twice", key)
			}
			seen[key] = true
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				props[key] = value[1 : len(value)-1]
			}
		}
	}
	switch state {
	case 0:
		return nil, errors.New("lists no IOPlatformExpertDevice")
	case 1, 2:
		return nil, errors.New("ends inside the IOPlatformExpertDevice entry (cut short)")
	}
	return props, nil
}

// ioregProperty splits a property line `"name" = value`.
func ioregProperty(t string) (key, value string, ok bool) {
	if !strings.HasPrefix(t, `"`) {
		return "", "", false
	}
	end := strings.IndexByte(t[1:], '"')
	if end < 0 {
		return "", "", false
	}
	key, rest := t[1:1+end], t[2+end:]
	value, ok = strings.CutPrefix(rest, " = ")
	return key, value, ok && key != ""
}

// parsePlistDict returns the top-level entries of a property list whose
// root is a dictionary, as `diskutil info -plist` prints it: strings,
// numbers and dates as their text, booleans as "true" or "false", and
// arrays and dictionaries as "" (present, but not read). Anything else
// (no plist, a truncated document, an unknown element, a key given twice,
// data after the end) is an error.
func parsePlistDict(out []byte) (map[string]string, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, errors.New("printed nothing")
	}
	props, err := plistDict(xml.NewDecoder(bytes.NewReader(out)))
	if err == io.EOF {
		return nil, errors.New("the property list is cut short")
	}
	return props, err
}

// plistDict is parsePlistDict on a decoder; io.EOF is an end before the
// document's.
func plistDict(d *xml.Decoder) (map[string]string, error) {
	start := func(want string) error {
		tok, err := plistToken(d)
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != want {
			return fmt.Errorf("not a property list with a dictionary (no <%s>)", want)
		}
		return nil
	}
	if err := start("plist"); err != nil {
		return nil, err
	}
	if err := start("dict"); err != nil {
		return nil, err
	}
	props := map[string]string{}
	for {
		tok, err := plistToken(d)
		if err != nil {
			return nil, err
		}
		if _, end := tok.(xml.EndElement); end {
			break // </dict>: the decoder checks that it matches
		}
		if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != "key" {
			return nil, errors.New("the dictionary holds something other than a <key>")
		}
		key, err := plistText(d)
		if err != nil {
			return nil, err
		}
		if _, dup := props[key]; dup {
			return nil, fmt.Errorf("names the key %q twice", key)
		}
		tok, err = plistToken(d)
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			return nil, fmt.Errorf("the key %q has no value", key)
		}
		switch se.Name.Local {
		case "string", "integer", "real", "date", "data":
			if props[key], err = plistText(d); err != nil {
				return nil, err
			}
		case "true", "false":
			props[key] = se.Name.Local
			if err := d.Skip(); err != nil {
				return nil, plistErr(err)
			}
		case "array", "dict":
			props[key] = ""
			if err := d.Skip(); err != nil {
				return nil, plistErr(err)
			}
		default:
			return nil, fmt.Errorf("the key %q has an unknown value <%s>", key, se.Name.Local)
		}
	}
	if tok, err := plistToken(d); err != nil {
		return nil, err
	} else if _, ok := tok.(xml.EndElement); !ok {
		return nil, errors.New("the plist holds more than one dictionary")
	}
	if _, err := plistToken(d); err != io.EOF {
		return nil, errors.New("data after the end of the property list")
	}
	return props, nil
}

// plistToken returns the next element token, skipping the XML
// declaration, the DOCTYPE, comments and white space; io.EOF only at the
// end of the input.
func plistToken(d *xml.Decoder) (xml.Token, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, plistErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, errors.New("not a property list (text outside its elements)")
			}
		}
	}
}

// plistText reads the text of the element just started, up to its end.
func plistText(d *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", plistErr(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("an element <%s> inside a text value", t.Name.Local)
		}
	}
}

// plistErr names a decoding error for a reason: EOF at the start is an
// empty output, EOF later a cut one.
func plistErr(err error) error {
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the property list is cut short")
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Msg, "unexpected EOF") {
			return errors.New("the property list is cut short")
		}
		return fmt.Errorf("not a property list (line %d: %s)", se.Line, oneLine(se.Msg))
	}
	return fmt.Errorf("not a property list: %s", oneLine(err.Error()))
}

// hardwarePort is one entry of `networksetup -listallhardwareports`:
//
//	Hardware Port: Wi-Fi
//	Device: en0
//	Ethernet Address: 3c:22:fb:12:34:56
type hardwarePort struct {
	Port, Device, Address string
}

// parseHardwarePorts returns the hardware ports listed, in order, up to
// the "VLAN Configurations" section that ends the list. Lines of other
// kinds are ignored (a later macOS may add some); an entry without its
// Device or Ethernet Address line (output cut short), a field given twice
// in one entry, or no entry at all is an error.
func parseHardwarePorts(out []byte) ([]hardwarePort, error) {
	var ports []hardwarePort
	var cur *hardwarePort
	var hasDevice, hasAddress bool
	finish := func() error {
		if cur == nil {
			return nil
		}
		if !hasDevice || !hasAddress {
			return fmt.Errorf("the entry of the port %q is incomplete (cut short?)", oneLine(cur.Port))
		}
		ports = append(ports, *cur)
		return nil
	}
	for l := range strings.Lines(string(out)) {
		t := strings.TrimSpace(l)
		if t == "VLAN Configurations" {
			break
		}
		key, value, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "Hardware Port":
			if err := finish(); err != nil {
				return nil, err
			}
			cur, hasDevice, hasAddress = &hardwarePort{Port: value}, false, false
		case "Device", "Ethernet Address":
			if cur == nil {
				return nil, fmt.Errorf("a %q line outside any hardware port", key)
			}
			if key == "Device" {
				if hasDevice {
					return nil, fmt.Errorf("the port %q names two devices", oneLine(cur.Port))
				}
				cur.Device, hasDevice = value, true
			} else {
				if hasAddress {
					return nil, fmt.Errorf("the port %q has two addresses", oneLine(cur.Port))
				}
				cur.Address, hasAddress = value, true
			}
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(ports) == 0 {
		return nil, errors.New("lists no hardware port")
	}
	return ports, nil
}
