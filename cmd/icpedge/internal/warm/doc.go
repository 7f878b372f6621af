// Package warm fills an edge's cache before launch: it reads the site's
// sitemaps (sitemaps.org: URL sets, sitemap indexes, gzip'ed files), maps
// the URLs on the site's own hosts onto the edge, and fetches every page
// through the edge at a rate the origin can bear, so that the pages are
// stored and stay up if the origin fails.
package warm
