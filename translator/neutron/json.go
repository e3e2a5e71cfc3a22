package neutron

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// value is one JSON value and the byte offset where it starts in its file,
// kept so that errors can give the line of the object they are about.
type value struct {
	raw json.RawMessage
	off int
}

// member is one name/value pair of a JSON object.
type member struct {
	key string
	val value
}

// kind names the JSON kind of v as users know it.
func (v value) kind() string {
	if len(v.raw) == 0 {
		return "nothing"
	}
	switch v.raw[0] {
	case '{':
		return "a mapping"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func (v value) isNull() bool { return string(v.raw) == "null" }

// skipSpace returns the first offset at or after i in b that is not JSON
// whitespace or one of the separators in seps.
func skipSpace(b []byte, i int, seps string) int {
	for i < len(b) {
		c := b[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || bytes.IndexByte([]byte(seps), c) >= 0 {
			i++
			continue
		}
		break
	}
	return i
}

// topValues splits a file into its JSON values: one document, or several
// written one after another (what a shell loop over `openstack ... show -f
// json` produces).
func topValues(data []byte) ([]value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []value
	for {
		start := skipSpace(data, int(dec.InputOffset()), "")
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, jsonError(data, err)
		}
		out = append(out, value{raw: raw, off: start})
	}
}

// jsonError words a syntax error with its line.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at line %d: %s", lineAt(data, int(se.Offset)), se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("invalid JSON: the input ends in the middle of a value")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// lineAt is the 1-based line of byte offset off.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// members lists the members of a JSON object in order.
func (v value) members() ([]member, error) {
	if v.kind() != "a mapping" {
		return nil, fmt.Errorf("want a mapping, got %s", v.kind())
	}
	dec := json.NewDecoder(bytes.NewReader(v.raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		start := skipSpace(v.raw, int(dec.InputOffset()), ":")
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, member{key: key, val: value{raw: raw, off: v.off + start}})
	}
	return out, nil
}

// elements lists the elements of a JSON array in order.
func (v value) elements() ([]value, error) {
	if v.kind() != "a list" {
		return nil, fmt.Errorf("want a list, got %s", v.kind())
	}
	dec := json.NewDecoder(bytes.NewReader(v.raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []value
	for dec.More() {
		start := skipSpace(v.raw, int(dec.InputOffset()), ",")
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, value{raw: raw, off: v.off + start})
	}
	return out, nil
}
