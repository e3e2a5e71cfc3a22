package compiler

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
)

// FuzzDecodeCompile runs the whole path an input takes, bytes → objects →
// world → flows, as `flowgate compile` does: no input may make any step
// panic. (Decoding's determinism is FuzzDecode's; compiling's is
// TestNewDeterministic's. This target stays lean so it runs many inputs.)
func FuzzDecodeCompile(f *testing.F) {
	for _, root := range []string{"../../examples", "../decode/testdata"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return err
			}
			data, err := os.ReadFile(path)
			if err == nil && len(data) < 16<<10 {
				f.Add(data)
			}
			return err
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := decode.Decode("fuzz.yaml", data)
		w, _ := decode.Build(objs)
		c, _ := New(w, Options{Locals: AllLocal(w, "")})
		for _, fl := range c.Flows() {
			_ = fl.String()
		}
	})
}
