package decode

import (
	"crypto/sha256"
	"sync"
)

// Decoder decodes as Decode does, and remembers the objects of every
// valid document of each file it decoded last, so that decoding a file
// again validates only the documents whose bytes changed: the agent
// rereads a changed file whole, and in a file of 50,000 pods one pod
// changed is one document decoded (the rest are looked up by their
// bytes). An unchanged document's objects are the same values as before
// (same pointers), which is what lets the agent find the changed objects
// without comparing values (compiler.ObjectTracker). Its methods may be
// called from several goroutines.
type Decoder struct {
	mu    sync.Mutex
	files map[string]*decodedFile
}

// decodedFile is what a Decoder remembers of a file: the objects it
// returned last (shared with the caller, who must not modify them) and
// where each valid document's objects are among them, by the SHA-256 of
// the document's bytes — about 60 bytes a document, where copies of the
// documents and their objects cost 60 MiB at 100,000 pods.
type decodedFile struct {
	objs []Object
	docs map[[32]byte]span
}

type span struct{ from, to int32 }

// NewDecoder returns a Decoder that remembers nothing yet.
func NewDecoder() *Decoder {
	return &Decoder{files: map[string]*decodedFile{}}
}

// Decode decodes data, the content of file (see the package Decode),
// reusing the objects of documents whose bytes file had last time. The
// objects returned must not be modified.
func (d *Decoder) Decode(file string, data []byte) ([]Object, []error) {
	d.mu.Lock()
	before := d.files[file]
	d.mu.Unlock()
	docs := splitDocuments(data)
	sums := make([][32]byte, len(docs))
	// counts[i] is how many objects document i gave, or -1 with errors.
	counts := make([]int, len(docs))
	objs, errs := decodeEach(len(docs), func(i int) ([]Object, []error) {
		doc := docs[i]
		sums[i] = sha256.Sum256(doc.data)
		if before != nil {
			if sp, ok := before.docs[sums[i]]; ok {
				counts[i] = int(sp.to - sp.from)
				return relocated(before.objs[sp.from:sp.to], doc.line), nil
			}
		}
		o, e := decodeDocument(file, doc)
		counts[i] = len(o)
		if len(e) > 0 {
			counts[i] = -len(o) - 1
		}
		return o, e
	})
	now := &decodedFile{objs: objs, docs: make(map[[32]byte]span, len(docs))}
	at := 0
	for i := range docs {
		n := counts[i]
		if n < 0 {
			at += -n - 1
			continue
		}
		if n > 0 {
			now.docs[sums[i]] = span{int32(at), int32(at + n)}
		}
		at += n
	}
	d.mu.Lock()
	d.files[file] = now
	d.mu.Unlock()
	return objs, errs
}

// Forget drops what is remembered of file (deleted, or no longer read).
func (d *Decoder) Forget(file string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.files, file)
}

// relocated returns objects decoded from a document, moved to the
// document's line now: the values are shared, origins and warnings are
// the new place's.
func relocated(objs []Object, line int) []Object {
	out := make([]Object, len(objs))
	for i, o := range objs {
		if o.Origin.Line != line {
			o = NewObject(*o.ObjectInfo) // the fields are shared with the last decode
			o.Origin.Line = line
			if len(o.Warnings) > 0 {
				ws := make([]error, len(o.Warnings))
				for j, w := range o.Warnings {
					if e, ok := w.(*Error); ok {
						cp := *e
						cp.Line = line
						w = &cp
					}
					ws[j] = w
				}
				o.Warnings = ws
			}
		}
		out[i] = o
	}
	return out
}
