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
// (same pointers), which is what lets the world's diff skip them. Its
// methods may be called from several goroutines.
type Decoder struct {
	mu sync.Mutex
	// files maps a file's name to its valid documents, by the SHA-256
	// of their bytes (32 bytes a document rather than a copy of it: at
	// 100,000 pods the copies were 30 MB).
	files map[string]map[[32]byte][]Object
}

// NewDecoder returns a Decoder that remembers nothing yet.
func NewDecoder() *Decoder {
	return &Decoder{files: map[string]map[[32]byte][]Object{}}
}

// Decode decodes data, the content of file (see the package Decode),
// reusing the objects of documents whose bytes file had last time.
func (d *Decoder) Decode(file string, data []byte) ([]Object, []error) {
	d.mu.Lock()
	before := d.files[file]
	d.mu.Unlock()
	docs := splitDocuments(data)
	// kept[i] are document i's objects when it is valid, to remember.
	kept := make([][]Object, len(docs))
	sums := make([][32]byte, len(docs))
	objs, errs := decodeEach(len(docs), func(i int) ([]Object, []error) {
		doc := docs[i]
		sums[i] = sha256.Sum256(doc.data)
		if known, ok := before[sums[i]]; ok {
			kept[i] = known
			return relocated(known, doc.line), nil
		}
		o, e := decodeDocument(file, doc)
		if len(e) == 0 {
			kept[i] = o
		}
		return o, e
	})
	now := make(map[[32]byte][]Object, len(docs))
	for i := range docs {
		if kept[i] != nil {
			now[sums[i]] = kept[i]
		}
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
