package rewrite

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

func parseAs(t testing.TB, b []byte, contentType string) *html.Node {
	t.Helper()
	rd, err := charset.NewReader(bytes.NewReader(b), contentType)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(rd)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key && a.Namespace == "" {
			return a.Val
		}
	}
	return ""
}

func findNotices(n *html.Node, out []*html.Node) []*html.Node {
	if n.Type == html.ElementNode && attrOf(n, "id") == NoticeID {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = findNotices(c, out)
	}
	return out
}

// describes reports whether n matches "tag", "tag.class" or "tag#id".
func describes(n *html.Node, desc string) bool {
	tag, rest := desc, ""
	if i := strings.IndexAny(desc, ".#"); i >= 0 {
		tag, rest = desc[:i], desc[i:]
	}
	if n.Type != html.ElementNode || n.Data != tag {
		return false
	}
	switch {
	case strings.HasPrefix(rest, "."):
		return strings.Contains(" "+attrOf(n, "class")+" ", " "+rest[1:]+" ")
	case strings.HasPrefix(rest, "#"):
		return attrOf(n, "id") == rest[1:]
	}
	return true
}

var originURL = regexp.MustCompile(`(?i)(https?:)?//www\.example\.com(:\d+)?([/?#"')\s,&]|$)`)

// wantURLs is the reference for what host rewriting does to a decoded
// attribute value or style sheet, written independently of the package.
func wantURLs(s string) string {
	return originURL.ReplaceAllString(s, "https://edge.example.cn$3")
}

var scriptURL = regexp.MustCompile(`(?i)(^|[^a-z0-9+.\-])https?:(//|\\/\\/|\\u002f\\u002f)www\.example\.com(:\d+)?([/?#"'\x60\s<>(),;\]}&]|\\[/"'\\]|\\u002f|$)`)

// wantScriptURLs is the reference for what host rewriting does to an
// inline script: the three forms of an absolute URL, the separator kept
// as written.
func wantScriptURLs(s string) string {
	return scriptURL.ReplaceAllString(s, "${1}https:${2}edge.example.cn${4}")
}

var urlAttrs = map[string]bool{"href": true, "src": true, "srcset": true, "imagesrcset": true,
	"action": true, "formaction": true, "style": true, "content": true, "poster": true,
	"data-src": true, "data-srcset": true, "data-bg": true, "data-lazy-src": true, "data-lazy-srcset": true, "data-bgset": true}

// sameTree compares in and out node by node; out may differ only in URL
// attribute values (as wantURLs or a dead-link repair says) and inline
// style sheets.
func sameTree(t *testing.T, in, out *html.Node, path string) {
	t.Helper()
	if in.Type != out.Type || in.Type != html.TextNode && in.Data != out.Data || in.Namespace != out.Namespace {
		t.Fatalf("%s: got node %d %q; want %d %q", path, out.Type, out.Data, in.Type, in.Data)
	}
	if in.Type == html.TextNode && in.Data != out.Data && !(in.Parent != nil && in.Parent.DataAtom == atom.Style && wantURLs(in.Data) == out.Data) &&
		!(in.Parent != nil && in.Parent.DataAtom == atom.Script && wantScriptURLs(in.Data) == out.Data) {
		t.Fatalf("%s: got text %q; want %q", path, out.Data, in.Data)
	}
	if len(in.Attr) != len(out.Attr) {
		t.Fatalf("%s: got %d attributes; want %d", path, len(out.Attr), len(in.Attr))
	}
	for i, a := range in.Attr {
		b := out.Attr[i]
		if a.Key != b.Key || a.Namespace != b.Namespace {
			t.Fatalf("%s: got attribute %q; want %q", path, b.Key, a.Key)
		}
		if a.Val == b.Val {
			continue
		}
		want := wantURLs(a.Val)
		if a.Key == "href" && deadLink([]byte(a.Val)) {
			want = miitURL
		}
		if !urlAttrs[a.Key] || b.Val != want {
			t.Fatalf("%s: got %s=%q; want %q", path, a.Key, b.Val, want)
		}
	}
	ic, oc := in.FirstChild, out.FirstChild
	for i := 0; ic != nil || oc != nil; i++ {
		if ic == nil || oc == nil {
			t.Fatalf("%s: child %d: got %v; want %v", path, i, oc, ic)
		}
		sameTree(t, ic, oc, path+"/"+oc.Data)
		ic, oc = ic.NextSibling, oc.NextSibling
	}
}

// TestDOMEquivalence checks that the browser's tree of the output is the
// tree of the input plus the notice, where expected, and the URL changes.
func TestDOMEquivalence(t *testing.T) {
	for _, p := range corpus {
		t.Run(p.name(), func(t *testing.T) {
			src := readPage(t, p.file)
			res, err := testRewriter(t, p.selector).HTML(src, p.contentType, testEdge)
			if err != nil {
				t.Fatal(err)
			}
			in := parseAs(t, src, p.contentType)
			out := parseAs(t, res.Body, res.ContentType)
			notices := findNotices(out, nil)
			if p.where == "" {
				if len(notices) > 1 {
					t.Fatalf("got %d notices; want at most the page's own", len(notices))
				}
				if res.Skipped != "" && !bytes.Equal(res.Body, src) {
					t.Fatalf("skipped (%s) but body changed", res.Skipped)
				}
			} else {
				if len(notices) != 1 {
					t.Fatalf("got %d notices; want 1", len(notices))
				}
				n := notices[0]
				switch rel, desc, _ := strings.Cut(p.where, " "); rel {
				case "in":
					if !describes(n.Parent, desc) {
						t.Fatalf("got notice in %s; want in %s", describe(n.Parent), desc)
					}
					if n.NextSibling != nil && !(n.NextSibling.Type == html.TextNode && strings.TrimSpace(n.NextSibling.Data) == "" && n.NextSibling.NextSibling == nil) {
						t.Fatalf("got notice followed by %q; want it last", n.NextSibling.Data)
					}
				case "after":
					if n.PrevSibling == nil || !describes(n.PrevSibling, desc) {
						t.Fatalf("got notice after %s in %s; want right after %s", describe(n.PrevSibling), describe(n.Parent), desc)
					}
				default:
					t.Fatalf("bad where %q in the corpus table", p.where)
				}
				got := textOf(n)
				switch {
				case p.partial && (strings.Contains(got, testNotice().ICP) || !strings.Contains(got, testNotice().Company) || !strings.Contains(got, testNotice().Police)):
					t.Fatalf("got notice text %q; want the company and the police number, and not the number the page shows", got)
				case !p.partial && (!strings.Contains(got, testNotice().ICP) || !strings.Contains(got, testNotice().Company)):
					t.Fatalf("got notice text %q; want the ICP number and company", got)
				}
				parent := n.Parent
				parent.RemoveChild(n)
				mergeText(parent)
			}
			sameTree(t, in, out, "")
		})
	}
}

// describe names n for failure messages.
func describe(n *html.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Type != html.ElementNode:
		return fmt.Sprintf("%q", n.Data)
	}
	return fmt.Sprintf("<%s class=%q id=%q>", n.Data, attrOf(n, "class"), attrOf(n, "id"))
}

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}

// TestCheapMatchesDOM checks that the token-only placement agrees with the
// DOM decision wherever it answers.
func TestCheapMatchesDOM(t *testing.T) {
	for _, p := range corpus {
		t.Run(p.name(), func(t *testing.T) {
			r := testRewriter(t, p.selector)
			src := readPage(t, p.file)
			a, _ := r.html(src, p.contentType, testEdge, false)
			b, _ := r.html(src, p.contentType, testEdge, true)
			if !bytes.Equal(a.Body, b.Body) {
				t.Errorf("got cheap placement differing from the DOM's")
			}
		})
	}
}

// mergeText joins adjacent text children, as the parser would have made
// them had nothing been between.
func mergeText(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		for c.Type == html.TextNode && c.NextSibling != nil && c.NextSibling.Type == html.TextNode {
			c.Data += c.NextSibling.Data
			n.RemoveChild(c.NextSibling)
		}
	}
}
