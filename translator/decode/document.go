package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// Object is one valid decoded object.
type Object struct {
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
	// Value is one of *policy.Policy, *policy.Tier, *policy.Namespace,
	// *policy.ServiceAccount, *policy.NetworkSet, *endpoints.Endpoint.
	Value any
}

// Ref names the object as errors and tools print it: "Kind ns/name".
func (o *Object) Ref() string { return objectRef(o.Kind, o.Namespace, o.Name) }

func objectRef(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// Decode reads every YAML or JSON document in data (multi-document YAML
// and kind: List included) and returns the valid objects and an *Error
// for every problem. file names the input in errors and origins.
func Decode(file string, data []byte) ([]Object, []error) {
	var objs []Object
	var errs []error
	for _, doc := range splitDocuments(data) {
		o, e := decodeDocument(file, doc)
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
	return objs, errs
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
	js, err := yaml.YAMLToJSONStrict(doc.data)
	if err != nil {
		return nil, []error{&Error{File: file, Line: doc.line, Object: "document", Err: fmt.Errorf("invalid YAML: %w", err)}}
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
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, fail(where+"document", "", fmt.Errorf("not an object: %w", err))
	}
	if h.Kind == "List" || strings.HasSuffix(h.Kind, "List") && h.APIVersion == "v1" {
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
	if len(probs) > 0 {
		errs := make([]error, len(probs))
		for i, p := range probs {
			errs[i] = &Error{File: origin.File, Line: origin.Line, Object: where + ref, Field: p.field, Err: p.err}
		}
		return nil, errs
	}
	if skip {
		return nil, nil
	}
	return []Object{{Origin: origin, Kind: d.kind, Namespace: ns, Name: h.Metadata.Name, Value: value}}, nil
}

func decodeList(origin Origin, js []byte, where string) ([]Object, []error) {
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(js, &list); err != nil {
		return nil, []error{&Error{File: origin.File, Line: origin.Line, Object: where + "List", Field: "items", Err: err}}
	}
	var objs []Object
	var errs []error
	for i, item := range list.Items {
		o, e := decodeJSON(origin, item, fmt.Sprintf("%sList item %d: ", where, i))
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
	return objs, errs
}

// strictDecode fills v from js, reporting every unknown or duplicate field
// by its path.
func strictDecode(js []byte, v any) problems {
	var probs problems
	strict, err := sigsjson.UnmarshalStrict(js, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		probs.addErr(fieldOfJSONError(err), cleanJSONError(err))
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
func fieldOfJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	return ""
}

func cleanJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("want %s, got a JSON %s", te.Type, te.Value)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return fmt.Errorf("%s", msg)
}
