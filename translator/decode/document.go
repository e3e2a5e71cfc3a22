package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Origin says where an object was read from.
type Origin struct {
	// File is the input's name ("-" for standard input).
	File string
	// Line is the first line of the object's document (1-based).
	Line int
}

// Object is one valid decoded object. It is a handle to its fields
// (ObjectInfo): copies share them, and they must not be modified once the
// object is handed on. The object lists the agent passes along on every
// change are then a pointer per object (at 50,000 pods, 0.4 MB instead of
// 7 MB of fresh memory per change, which on a virtual machine cost ~20 ms
// of page faults each time).
type Object struct {
	*ObjectInfo
}

// ObjectInfo is what an Object holds.
type ObjectInfo struct {
	// Origin is where it was read.
	Origin Origin
	// Kind is the object's kind as users write it, qualified with the
	// API group where two APIs share a kind
	// ("NetworkPolicy.networking.k8s.io").
	Kind string
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	// Name is the object's name.
	Name string
	// Value is one of *policy.Policy, *policy.StagedPolicy, *policy.Tier,
	// *policy.Namespace, *policy.ServiceAccount, *policy.NetworkSet,
	// *policy.Endpoint.
	Value any
	// Warnings are *Error values for input that is valid — Calico or
	// Kubernetes accept it, and so does flowgate — but is probably not
	// what its author meant (rules of a direction types leaves out, which
	// are ignored). `flowgate check` prints them; they never make an
	// object invalid.
	Warnings []error
	// Document is the object's JSON as it was read, so that what a
	// source holds can be handed on and decoded again unchanged (the
	// agent serves it for `flowgate diff --agent`).
	Document []byte
}

// NewObject returns an object holding info.
func NewObject(info ObjectInfo) Object { return Object{&info} }

// Ref names the object as errors and tools print it: "Kind ns/name".
func (o *ObjectInfo) Ref() string { return objectRef(o.Kind, o.Namespace, o.Name) }

func objectRef(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// Decode reads every YAML or JSON document in data (multi-document YAML
// and kind: List included) and returns the valid objects and an *Error
// for every problem. file names the input in errors and origins.
//
// Documents, and the items of a List, are decoded in parallel; the result
// is in input order all the same.
func Decode(file string, data []byte) ([]Object, []error) {
	docs := splitDocuments(data)
	return decodeEach(len(docs), func(i int) ([]Object, []error) {
		return decodeDocument(file, docs[i])
	})
}

// document is one YAML document and the line it starts on.
type document struct {
	line int
	data []byte
}

// splitDocuments cuts multi-document YAML at "---" lines, remembering where
// each document starts so errors can point at it.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine := 0, 1
	line := 1
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data) - i
		}
		text := data[i : i+end]
		if isSeparator(text) {
			docs = append(docs, document{line: startLine, data: data[start:i]})
			start, startLine = i+end+1, line+1
		}
		i += end + 1
		line++
	}
	if start < len(data) {
		docs = append(docs, document{line: startLine, data: data[start:]})
	}
	return docs
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := strings.TrimSpace(string(line[3:]))
	return rest == "" || strings.HasPrefix(rest, "#")
}

// header is what every object has: enough to know how to decode the rest.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func decodeDocument(file string, doc document) ([]Object, []error) {
	if js, ok := asJSON(doc.data); ok {
		return decodeJSON(Origin{File: file, Line: doc.line}, js, "")
	}
	return decodeYAMLDocument(file, doc)
}

// decodeYAMLDocument decodes a document through the YAML parser: YAML,
// and JSON that asJSON does not take as it is.
func decodeYAMLDocument(file string, doc document) ([]Object, []error) {
	js, err := yaml.YAMLToJSONStrict(doc.data)
	if err != nil {
		return nil, []error{&Error{File: file, Line: doc.line, Object: guessObject(doc.data), Err: fmt.Errorf("invalid YAML: %s", yamlMessage(err, doc.line))}}
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		return nil, nil
	}
	return decodeJSON(Origin{File: file, Line: doc.line}, js, "")
}

// decodeJSON decodes one object (or a List of them); where names the List
// item for errors, if any.
func decodeJSON(origin Origin, js []byte, where string) ([]Object, []error) {
	fail := func(object, field string, err error) []error {
		return []error{&Error{File: origin.File, Line: origin.Line, Object: object, Field: field, Err: err}}
	}
	h, scanned := scanHeader(js)
	if !scanned {
		h = header{}
		if err := json.Unmarshal(js, &h); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return nil, fail(where+"document", te.Field, cleanJSONError(err))
			}
			return nil, fail(where+"document", "", fmt.Errorf("want a mapping with apiVersion, kind and metadata, got %s", jsonValueKind(js)))
		}
	}
	if isList(h.APIVersion, h.Kind) {
		if strings.Count(where, "List item ") >= maxListDepth {
			// Every level of nesting re-reads the rest of the input: a
			// 200 KB file of 4,000 nested Lists took 17 s.
			return nil, fail(where+h.Kind, "", fmt.Errorf("Lists nested more than %d deep are not supported", maxListDepth))
		}
		return decodeList(origin, js, where)
	}
	d, ok := decoders[h.APIVersion+" "+h.Kind]
	if !ok {
		what := where + "document"
		if h.Kind != "" {
			what = where + objectRef(h.Kind, h.Metadata.Namespace, h.Metadata.Name)
		}
		if h.APIVersion == "" || h.Kind == "" {
			return nil, fail(what, "", fmt.Errorf("apiVersion and kind are required"))
		}
		return nil, fail(what, "kind", fmt.Errorf("unsupported kind %s %s (flowgate reads %s)", h.APIVersion, h.Kind, supportedKinds()))
	}
	ns := h.Metadata.Namespace
	if d.namespaced && ns == "" {
		ns = "default"
	}
	if !d.namespaced {
		ns = ""
	}
	ref := objectRef(d.kind, ns, h.Metadata.Name)
	if h.Metadata.Name == "" {
		return nil, fail(where+ref, "metadata.name", fmt.Errorf("required"))
	}
	if d.namespaced && h.Metadata.Namespace != "" {
		if err := validDNSLabel(h.Metadata.Namespace); err != nil {
			return nil, fail(where+ref, "metadata.namespace", err)
		}
	}
	if !d.namespaced && h.Metadata.Namespace != "" {
		return nil, fail(where+ref, "metadata.namespace", fmt.Errorf("%s is cluster-scoped and takes no namespace", d.kind))
	}
	value, skip, probs := d.decode(js, ns)
	var errs, warnings []error
	for _, p := range probs {
		e := &Error{File: origin.File, Line: origin.Line, Object: where + ref, Field: p.field, Err: p.err}
		if p.warning {
			warnings = append(warnings, e)
		} else {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if skip {
		return nil, nil
	}
	return []Object{NewObject(ObjectInfo{Origin: origin, Kind: d.kind, Namespace: ns, Name: h.Metadata.Name, Value: value, Warnings: warnings, Document: js})}, nil
}

// maxListDepth is how deep Lists may nest. kubectl and calicoctl write
// one level; a List of typed lists is two.
const maxListDepth = 4

// isList: kind: List, or a typed list of an API flowgate reads, as
// `kubectl get networkpolicies -o yaml` (NetworkPolicyList when read from
// the API directly) and `calicoctl get globalnetworkpolicies -o yaml`
// (GlobalNetworkPolicyList) write them.
func isList(apiVersion, kind string) bool {
	if kind == "List" {
		return true
	}
	if !strings.HasSuffix(kind, "List") {
		return false
	}
	for k := range decoders {
		if strings.HasPrefix(k, apiVersion+" ") {
			return true
		}
	}
	return false
}

func decodeList(origin Origin, js []byte, where string) ([]Object, []error) {
	items, scanned := scanItems(js)
	if !scanned {
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(js, &list); err != nil {
			return nil, []error{&Error{File: origin.File, Line: origin.Line, Object: where + "List", Field: "items", Err: err}}
		}
		items = make([][]byte, len(list.Items))
		for i, item := range list.Items {
			items[i] = item
		}
	}
	return decodeEach(len(items), func(i int) ([]Object, []error) {
		return decodeJSON(origin, items[i], fmt.Sprintf("%sList item %d: ", where, i))
	})
}

// strictDecode fills v from js, reporting every unknown or duplicate field
// by its path.
func strictDecode(js []byte, v any) problems {
	var probs problems
	strict, err := sigsjson.UnmarshalStrict(js, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		probs.addErr(fieldOfJSONError(js, err), cleanJSONError(err))
		return probs
	}
	for _, s := range strict {
		probs.addErr(fieldOfStrictError(s), fmt.Errorf("%s", strictMessage(s)))
	}
	return probs
}

// fieldOfStrictError pulls the field path out of messages such as
// `unknown field "spec.ingress[0].foo"`.
func fieldOfStrictError(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		if j := strings.IndexByte(msg[i+1:], '"'); j >= 0 {
			return msg[i+1 : i+1+j]
		}
	}
	return ""
}

func strictMessage(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown field"):
		return "unknown field"
	case strings.HasPrefix(msg, "duplicate field"):
		return "duplicate field"
	}
	return msg
}

// fieldOfJSONError finds the field named in a type-mismatch error.
// sigs.k8s.io/json returns encoding/json's *UnmarshalTypeError (its
// internal package aliases the type), whose Field is a dotted path without
// list indices ("spec.ingress.action"). The path is rebuilt with indices
// ("spec.ingress[1].action") and, for a map value, the key
// ("metadata.labels.app"): from the error's offset into js, or else, when
// the offset is relative to a value a custom unmarshaller was handed, from
// the one value in js at that path that has the offending JSON kind.
func fieldOfJSONError(js []byte, err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return ""
	}
	matches := func(p string) bool {
		s := stripIndices(p)
		return s == te.Field || strings.HasPrefix(s, te.Field+".")
	}
	var atOffset string
	var candidates []string
	kind, _, _ := strings.Cut(te.Value, " ")
	walkJSON(js, func(p, k string, end int64) {
		if atOffset == "" && end >= te.Offset {
			atOffset = p
		}
		if k == kind && stripIndices(p) == te.Field {
			candidates = append(candidates, p)
		}
	})
	switch {
	case atOffset != "" && matches(atOffset):
		return atOffset
	case len(candidates) == 1:
		return candidates[0]
	}
	return te.Field
}

// walkJSON calls visit for every value in js, outermost first, with its
// path ("spec.ingress[1].action"), its kind as encoding/json names it
// ("object", "array", "string", "number", "bool", "null") and the offset
// just after its first token. It stops quietly at malformed input.
func walkJSON(js []byte, visit func(path, kind string, end int64)) {
	type frame struct {
		array bool
		index int    // of the current element, in arrays
		key   string // of the current member, in objects
		inKey bool   // the next string is a member name
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				fmt.Fprintf(&b, "[%d]", f.index)
			} else {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
				stack = stack[:n-1]
				if len(stack) > 0 && !stack[len(stack)-1].array {
					stack[len(stack)-1].inKey = true
				}
				continue
			}
			if !top.array && top.inKey {
				top.key, top.inKey = tok.(string), false
				continue
			}
			if top.array {
				top.index++
			}
		}
		var kind string
		switch tok.(type) {
		case json.Delim:
			kind = "object"
			if tok == json.Delim('[') {
				kind = "array"
			}
		case string:
			kind = "string"
		case json.Number:
			kind = "number"
		case bool:
			kind = "bool"
		default:
			kind = "null"
		}
		visit(path(), kind, dec.InputOffset())
		switch kind {
		case "object":
			stack = append(stack, frame{inKey: true})
		case "array":
			stack = append(stack, frame{array: true, index: -1})
		default:
			if n := len(stack); n > 0 && !stack[n-1].array {
				stack[n-1].inKey = true
			}
		}
	}
}

// stripIndices turns "spec.ingress[1].action" into "spec.ingress.action".
func stripIndices(p string) string {
	var b strings.Builder
	depth := 0
	for _, c := range p {
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// cleanJSONError words a decoding error for users: what the field wants
// and what it got, without Go type names.
func cleanJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		msg := fmt.Sprintf("want %s, got %s", goTypeWords(te.Type), jsonValueWords(te.Value))
		if te.Value == "bool" && te.Type.Kind() == reflect.String {
			msg += " (YAML reads unquoted y, n, yes, no, on, off, true and false as booleans: quote the value)"
		}
		return errors.New(msg)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return fmt.Errorf("%s", msg)
}

func goTypeWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return goTypeWords(t.Elem())
	}
	return t.String()
}

// jsonValueWords turns encoding/json's "number 1.5", "array", "object"...
// into "the number 1.5", "a list", "a mapping".
func jsonValueWords(v string) string {
	switch {
	case v == "array":
		return "a list"
	case v == "object":
		return "a mapping"
	case v == "bool":
		return "a boolean"
	case v == "string":
		return "a string"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return "the " + v
	}
	return v
}

// jsonValueKind names the kind of a JSON document's top-level value.
func jsonValueKind(js []byte) string {
	switch js[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "a mapping"
	}
	return "a number"
}

var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// yamlMessage rewrites the YAML parser's document-relative line numbers as
// file line numbers (the document starts at line first) and puts a
// multi-line message on one line.
func yamlMessage(err error, first int) string {
	msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(n+first-1)
	})
	return strings.Join(strings.Fields(msg), " ")
}

// guessObject names the object in a document that strict YAML parsing
// rejected (a duplicate key, say) when a lenient parse can still read its
// kind and name; otherwise "document".
func guessObject(data []byte) string {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return "document"
	}
	var h header
	if json.Unmarshal(js, &h) != nil || h.Kind == "" {
		return "document"
	}
	return objectRef(h.Kind, h.Metadata.Namespace, h.Metadata.Name)
}
