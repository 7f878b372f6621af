package demo

import (
	"fmt"
	"io"
	"net"
	"text/tabwriter"
)

// WriteTour prints what there is to see at base, the edge's URL.
func WriteTour(w io.Writer, base string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "icpedge demo: try")
	for _, x := range [][2]string{
		{base + "/", "the home page: its links moved onto the edge, the ICP notice after its footer"},
		{base + "/gbk", "a GBK page: it keeps its encoding, and the notice reads right in it"},
		{base + "/about", "a page that already shows its number: no second one; its dead MIIT link repaired"},
		{base + "/plain", "a page without a footer: the notice at the end of <body>"},
		{"curl -I " + base + "/", `twice: Cache-Status says "fwd=miss; stored", then "hit"`},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", x[0], x[1])
	}
	tw.Flush()
}

// VisitAddr is the address a person types to reach the edge listening
// at a: localhost for loopback.
func VisitAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP.IsLoopback() || tcp.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return a.String()
}
