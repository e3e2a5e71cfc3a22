// Package flowgate is the module's root. It holds no code, only the test
// that keeps the layering the README's "Layout" describes: the translator
// is pure and imports no source, no Open vSwitch client and no command;
// the Open vSwitch packages know nothing of sources or commands.
package flowgate
