// Package oftrace writes packets in ofproto/trace's flow syntax and reads
// what a trace says: whether the bridge delivered the packet, and which
// rule or default decided each direction, from the flows' cookies and the
// registers the pipeline loads (docs/pipeline.md). It reads only what the
// bridge printed; naming the rules is the compiler's (compiler.RuleOf).
package oftrace
