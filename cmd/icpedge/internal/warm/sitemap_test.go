package warm

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseSitemap(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    string
		index bool
		want  []string
	}{
		{"url set", `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc> https://a.test/x?a=1&amp;b=2 </loc></url></urlset>`, false, []string{"https://a.test/x?a=1&b=2"}},
		{"index", `<sitemapindex><sitemap><loc>https://a.test/s1.xml</loc><lastmod>2024-01-01</lastmod></sitemap></sitemapindex>`, true, []string{"https://a.test/s1.xml"}},
		{"image extension locs are not pages", `<urlset xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url><loc>https://a.test/p</loc><image:image><image:loc>https://a.test/i.jpg</image:loc></image:image></url></urlset>`, false, []string{"https://a.test/p"}},
		{"empty url set", `<urlset></urlset>`, false, nil},
		{"byte order mark and white space", "\xEF\xBB\xBF\n  <urlset><url><loc>https://a.test/</loc></url></urlset>", false, []string{"https://a.test/"}},
		{"text format", "https://a.test/1\n\nhttps://a.test/2\r\n", false, []string{"https://a.test/1", "https://a.test/2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sm, err := parseSitemap(strings.NewReader(tt.in), Limits{}.withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			if sm.index != tt.index || !slices.Equal(sm.locs, tt.want) {
				t.Errorf("got index %v, %q; want %v, %q", sm.index, sm.locs, tt.index, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "   ", "<rss><channel/></rss>", "not a url\n"} {
		if _, err := parseSitemap(strings.NewReader(bad), Limits{}.withDefaults()); err == nil {
			t.Errorf("parseSitemap(%q): no error", bad)
		}
	}
}

// FuzzParseSitemap: whatever the bytes, parsing ends without a panic,
// within the limits, and every URL it returns is non-empty and trimmed.
func FuzzParseSitemap(f *testing.F) {
	f.Add([]byte(`<urlset><url><loc>https://a.test/</loc></url></urlset>`))
	f.Add([]byte(`<sitemapindex><sitemap><loc>https://a.test/s.xml</loc></sitemap></sitemapindex>`))
	f.Add([]byte("https://a.test/1\nhttps://a.test/2\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	lim := Limits{MaxBytes: 1 << 16, MaxURLs: 50}.withDefaults()
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, err := parseSitemap(bytes.NewReader(b), lim)
		if err != nil {
			return
		}
		if len(sm.locs) > lim.MaxURLs {
			t.Fatalf("%d URLs; the limit is %d", len(sm.locs), lim.MaxURLs)
		}
		for _, l := range sm.locs {
			if l == "" || l != strings.TrimSpace(l) || len(l) > maxLoc {
				t.Fatalf("URL %q: want non-empty, trimmed, at most %d bytes", l, maxLoc)
			}
		}
	})
}
