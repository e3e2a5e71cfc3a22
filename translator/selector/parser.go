package selector

// parser is a recursive-descent parser over the lexer, one token of
// lookahead, following Calico's grammar:
//
//	selector = [ or ]
//	or       = and { "||" and }
//	and      = unary { "&&" unary }
//	unary    = { "!" } primary
//	primary  = "(" or ")" | "all()" | "global()" | "has(" key ")"
//	         | key ( "==" | "!=" | "contains" | "starts with" | "ends with" ) string
//	         | key ( "in" | "not in" ) "{" [ string { "," string } [ "," ] ] "}"
//
// A trailing comma inside a set is accepted because Calico accepts it.
type parser struct {
	lx    lexer
	tok   token // the next unconsumed token
	depth int   // open parentheses
}

// parse parses src into a tree. An empty or blank selector is all(), as in
// Calico.
func parse(src string) (*node, *ParseError) {
	p := parser{lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == kEOF {
		return allNode, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case kEOF:
		return n, nil
	case kRParen:
		return nil, p.errorf("unbalanced ')': no '(' to close")
	}
	return nil, p.errorf("expected '&&', '||' or end of selector, found %s", p.tok.describe())
}

func (p *parser) advance() *ParseError {
	t, err := p.lx.next()
	p.tok = t
	return err
}

// errorf reports an error at the current token.
func (p *parser) errorf(format string, args ...any) *ParseError {
	return p.lx.errorf(p.tok.pos, format, args...)
}

func (p *parser) or() (*node, *ParseError) {
	return p.list(kOr, opOr, p.and)
}

func (p *parser) and() (*node, *ParseError) {
	return p.list(kAnd, opAnd, p.unary)
}

// list parses operands separated by the operator token sep.
func (p *parser) list(sep kind, o op, operand func() (*node, *ParseError)) (*node, *ParseError) {
	first, err := operand()
	if err != nil || p.tok.kind != sep {
		return first, err
	}
	kids := []*node{first}
	for p.tok.kind == sep {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := operand()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	return boolNode(o, kids), nil
}

func (p *parser) unary() (*node, *ParseError) {
	negate := false
	for p.tok.kind == kNot {
		negate = !negate
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	n, err := p.primary()
	if err != nil || !negate {
		return n, err
	}
	return notNode(n), nil
}

func (p *parser) primary() (*node, *ParseError) {
	t := p.tok
	switch t.kind {
	case kAll:
		return allNode, p.advance()
	case kGlobal:
		return globalNode, p.advance()
	case kHas:
		return hasNode(t.text), p.advance()
	case kLParen:
		return p.group()
	case kKey:
		return p.comparison(t.text)
	}
	return nil, p.errorf("expected a label key, has(), all(), global(), '!' or '(', found %s", t.describe())
}

func (p *parser) group() (*node, *ParseError) {
	open := p.tok.pos
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("parentheses nested more than %d deep", maxDepth)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != kRParen {
		return nil, p.errorf("expected ')' to close '(' at column %d, found %s", open+1, p.tok.describe())
	}
	p.depth--
	return n, p.advance()
}

// comparison parses the operator and operand after a label key. The current
// token is the key, so the lexer sits just after it.
func (p *parser) comparison(key string) (*node, *ParseError) {
	opTok, err := p.lx.operator(key)
	if err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var o op
	switch opTok.kind {
	case kIn:
		return p.set(opIn, key)
	case kNotIn:
		return p.set(opNotIn, key)
	case kEq:
		o = opEq
	case kNe:
		o = opNe
	case kContains:
		o = opContains
	case kStartsWith:
		o = opStartsWith
	case kEndsWith:
		o = opEndsWith
	}
	if p.tok.kind != kString {
		return nil, p.errorf("expected a quoted string after %s, found %s", opTok.describe(), p.tok.describe())
	}
	value := p.tok.text
	return cmpNode(o, key, value), p.advance()
}

// set parses the braced string list of "in" and "not in".
func (p *parser) set(o op, key string) (*node, *ParseError) {
	if p.tok.kind != kLBrace {
		word := "in"
		if o == opNotIn {
			word = "not in"
		}
		return nil, p.errorf("expected '{' to start the set after %q, found %s", word, p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var values []string
	for p.tok.kind == kString {
		values = append(values, p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != kComma {
			if p.tok.kind != kRBrace {
				return nil, p.errorf("expected ',' or '}' in set, found %s", p.tok.describe())
			}
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.tok.kind != kRBrace {
		return nil, p.errorf("expected a quoted string or '}' in set, found %s", p.tok.describe())
	}
	return setNode(o, key, values), p.advance()
}
