package rewrite

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/net/html"
)

// TestTagNameMatchesTokenizer checks the scanner's own tag names against
// the tokenizer's TagName for every tag of the corpus and of markup
// chosen to differ: upper case, attributes glued to the name, self-closing
// slashes, whitespace of every kind, and a NUL.
func TestTagNameMatchesTokenizer(t *testing.T) {
	docs := [][]byte{[]byte("<DIV CLASS=x><Foot\ter><a/b><IMG/><br\f/><SVG:Path d=1></SVG:Path></Foot\ter ><p\x00q>x</p\x00q></DIV\n>")}
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.html"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v, %d files", err, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	tags := 0
	for _, doc := range docs {
		z := html.NewTokenizer(bytes.NewReader(doc))
		sc := &scanner{}
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			raw := z.Raw()
			var ours []byte
			switch tt {
			case html.StartTagToken, html.SelfClosingTagToken:
				ours = sc.tagName(raw[1:])
			case html.EndTagToken:
				ours = sc.tagName(raw[2:])
			default:
				continue
			}
			ours = bytes.Clone(ours)
			theirs, _ := z.TagName()
			if !bytes.Equal(ours, theirs) {
				t.Errorf("tag %q: name %q, the tokenizer's %q", raw, ours, theirs)
			}
			tags++
		}
	}
	if tags < 100 {
		t.Fatalf("only %d tags compared", tags)
	}
}
