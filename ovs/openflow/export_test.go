package openflow

import "github.com/flowgate/flowgate/translator/compiler"

// NativeEncodes is nil when the native path encodes f both as an add and
// as a strict delete, else why not.
func NativeEncodes(f compiler.Flow) error {
	if _, err := flowAdd(&f); err != nil {
		return err
	}
	_, err := flowDeleteStrict(&f)
	return err
}
