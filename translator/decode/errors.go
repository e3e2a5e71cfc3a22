package decode

import (
	"fmt"
	"strings"
)

// Error is one problem in the input, located as precisely as the input
// allows: the file, the document's first line, the object and the field.
type Error struct {
	// File is the path the input came from ("-" for standard input).
	File string
	// Line is the first line of the offending document (1-based), or 0.
	Line int
	// Object names the object: "Kind namespace/name", or "document N"
	// when the object could not be identified.
	Object string
	// Field is the path of the offending field, e.g.
	// "spec.ingress[0].source.nets[1]"; empty for whole-object problems.
	Field string
	// Err says what is wrong.
	Err error
}

// Error formats as "file:line: object: field: problem".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Object != "" {
		b.WriteString(": ")
		b.WriteString(e.Object)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap exposes the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// fieldError is a problem found while validating an object, before the
// file and object are known; the document decoder wraps it into an Error.
type fieldError struct {
	field string
	err   error
	// warning marks input that is accepted as Calico or Kubernetes accept
	// it but probably does not mean what its author thinks (rules that
	// are ignored); the object is kept and the warning reported beside it.
	warning bool
}

func (f *fieldError) Error() string { return f.field + ": " + f.err.Error() }

// problems collects field errors for one object.
type problems []*fieldError

func (p *problems) add(field string, format string, args ...any) {
	*p = append(*p, &fieldError{field: field, err: fmt.Errorf(format, args...)})
}

// warn records a warning: the object stays valid.
func (p *problems) warn(field string, format string, args ...any) {
	*p = append(*p, &fieldError{field: field, err: fmt.Errorf(format, args...), warning: true})
}

func (p *problems) addErr(field string, err error) {
	*p = append(*p, &fieldError{field: field, err: err})
}
