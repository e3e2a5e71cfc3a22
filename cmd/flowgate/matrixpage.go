package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/flowgate/flowgate/translator/evaluator"
)

// matrixPageHTML is the page's template: markup, style and script in one
// file, with the data embedded as JSON, so the page needs no network
// access to be viewed.
//
//go:embed matrixpage.html
var matrixPageHTML string

var matrixPageTemplate = template.Must(template.New("matrix").Parse(matrixPageHTML))

// matrixPage is the data of one HTML matrix (`matrix -o html`, `diff -o
// html`): the participants sorted by namespace, one grid per service, and
// for a diff the opened and closed cells with their before verdicts.
// Grids are flat strings and arrays, row-major, so that 500 endpoints'
// quarter of a million cells stay a few megabytes.
type matrixPage struct {
	Title        string         `json:"title"`
	Participants []pageEndpoint `json:"participants"`
	Services     []string       `json:"services"`
	// Reasons are the distinct decision texts the grids index.
	Reasons []string   `json:"reasons"`
	Grids   []pageGrid `json:"grids"`
	// Diff is true for a diff page.
	Diff bool `json:"diff"`

	index   map[string]int // participant name -> position
	reasons map[string]int
}

// pageEndpoint is one row and column.
type pageEndpoint struct {
	Name      string `json:"name"`
	Namespace string `json:"ns"`
}

// pageGrid is one service's cells: Cells holds 'a' allowed, 'd' denied,
// '-' not probed (a participant with itself, two outside addresses);
// Egress and Ingress index Reasons (-1: that side is no endpoint). For a
// diff, Changes holds ' ' unchanged, '+' opened, 'x' closed, and Before the
// before decisions of the changed cells by cell index.
type pageGrid struct {
	Cells   string                `json:"cells"`
	Egress  []int                 `json:"egress"`
	Ingress []int                 `json:"ingress"`
	Changes string                `json:"changes,omitempty"`
	Before  map[string]pageBefore `json:"before,omitempty"`
}

// pageBefore is a changed cell's verdict and decisions before.
type pageBefore struct {
	Allowed bool `json:"allowed"`
	Egress  int  `json:"egress"`
	Ingress int  `json:"ingress"`
}

// newMatrixPage lays out rows (from ev.Matrix over ps and services).
func newMatrixPage(title string, ps []evaluator.Participant, services []evaluator.Service, rows []evaluator.Cell) *matrixPage {
	p := &matrixPage{Title: title, index: map[string]int{}, reasons: map[string]int{}, Reasons: []string{}}
	for _, q := range ps {
		p.Participants = append(p.Participants, pageEndpoint{Name: q.Name, Namespace: q.Namespace()})
	}
	sort.SliceStable(p.Participants, func(i, j int) bool {
		a, b := p.Participants[i], p.Participants[j]
		if (a.Namespace == "") != (b.Namespace == "") {
			return b.Namespace == ""
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	for i, q := range p.Participants {
		p.index[q.Name] = i
	}
	n := len(p.Participants)
	svcIndex := map[string]int{}
	for i, s := range services {
		p.Services = append(p.Services, serviceLabel(s.Protocol.String(), s.Port))
		for _, name := range protocolNamesFor(s.Protocol) {
			port := s.Port
			if s.Protocol.IsICMP() {
				port = 0
			}
			svcIndex[serviceLabel(name, port)] = i
		}
		g := pageGrid{Egress: make([]int, n*n), Ingress: make([]int, n*n)}
		for k := range g.Egress {
			g.Egress[k], g.Ingress[k] = -1, -1
		}
		g.Cells = strings.Repeat("-", n*n)
		p.Grids = append(p.Grids, g)
	}
	cells := make([][]byte, len(p.Grids))
	for i := range cells {
		cells[i] = []byte(p.Grids[i].Cells)
	}
	for _, r := range rows {
		gi, ok := svcIndex[serviceLabel(r.Protocol, r.Port)]
		from, okF := p.index[r.From]
		to, okT := p.index[r.To]
		if !ok || !okF || !okT {
			continue
		}
		k := from*n + to
		cells[gi][k] = 'd'
		if r.Allowed {
			cells[gi][k] = 'a'
		}
		p.Grids[gi].Egress[k] = p.reason(r.Verdict.Egress)
		p.Grids[gi].Ingress[k] = p.reason(r.Verdict.Ingress)
	}
	for i := range cells {
		p.Grids[i].Cells = string(cells[i])
	}
	return p
}

// addChanges marks a diff's opened and closed connections.
func (p *matrixPage) addChanges(cs []evaluator.ChangedConnection) {
	p.Diff = true
	n := len(p.Participants)
	changes := make([][]byte, len(p.Grids))
	for i := range changes {
		changes[i] = []byte(strings.Repeat(" ", n*n))
		p.Grids[i].Before = map[string]pageBefore{}
	}
	for _, c := range cs {
		gi := p.serviceIndex(c.Protocol, c.Port)
		from, okF := p.index[c.From]
		to, okT := p.index[c.To]
		if gi < 0 || !okF || !okT {
			continue
		}
		k := from*n + to
		changes[gi][k] = 'x'
		if c.Opened() {
			changes[gi][k] = '+'
		}
		p.Grids[gi].Before[strconv.Itoa(k)] = pageBefore{Allowed: c.Before.Allowed,
			Egress: p.reason(c.Before.Verdict.Egress), Ingress: p.reason(c.Before.Verdict.Ingress)}
	}
	for i := range changes {
		p.Grids[i].Changes = string(changes[i])
	}
}

func (p *matrixPage) serviceIndex(proto string, port uint16) int {
	for i, s := range p.Services {
		if s == serviceLabel(proto, port) || (strings.HasPrefix(proto, "icmp") && s == "icmp") {
			return i
		}
	}
	return -1
}

// reason interns one side's decision as the page shows it.
func (p *matrixPage) reason(d *evaluator.Decision) int {
	if d == nil {
		return -1
	}
	word := "denied"
	if d.Allowed {
		word = "allowed"
	}
	text := fmt.Sprintf("%s of %s %s: %s", d.Direction, d.Endpoint, word, d.Reason)
	if i, ok := p.reasons[text]; ok {
		return i
	}
	p.reasons[text] = len(p.Reasons)
	p.Reasons = append(p.Reasons, text)
	return len(p.Reasons) - 1
}

// write renders the page.
func (p *matrixPage) write(w io.Writer) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("matrix page: %w", err)
	}
	return matrixPageTemplate.Execute(w, struct {
		Title string
		Data  template.JS
	}{p.Title, template.JS(data)})
}

// serviceLabel names a service as the page's port filter shows it:
// "tcp/80", or the ICMP protocol alone.
func serviceLabel(proto string, port uint16) string {
	if strings.HasPrefix(proto, "icmp") {
		return "icmp"
	}
	return proto + "/" + strconv.Itoa(int(port))
}
