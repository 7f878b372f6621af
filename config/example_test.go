package config_test

import (
	"fmt"

	"github.com/icpedge/icpedge/config"
)

func ExampleParse() {
	cfg, err := config.Parse("/etc/icpedge/client.yaml", []byte(`
hosts: [icp.client.com]
origin: https://www.client.com
listen:
  http: ":80"
  https: ":443"
notice:
  icp: 京ICP备12345678号-1
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Hosts, cfg.Origin, cfg.TLS.Mode, cfg.Cache.Dir)

	// Every problem in a file is reported at once, one per line.
	_, err = config.Parse("site.yaml", []byte(`
hosts: [icp.client.com:443]
origin: https://www.client.com
listen:
  http: ":80"
notice:
  icp: 京ICP12345678号
cache:
  max_sise: 1GiB
`))
	fmt.Println(err)
	// Output:
	// [icp.client.com] https://www.client.com acme /var/lib/icpedge/client/cache
	// site.yaml:2: hosts[0]: "icp.client.com:443" is not a host name (has a port); expected a DNS name such as icp.client.com, without scheme, port, path or wildcard
	// site.yaml:7: notice.icp: "京ICP12345678号" is not an ICP number; expected a province abbreviation, "ICP备", 8–10 digits, "号" and an optional "-N" (e.g. 京ICP备12345678号-1), or a licence "ICP证" + 6 digits + "号"
	// site.yaml:9: cache.max_sise: unknown key; did you mean cache.max_size?
}
