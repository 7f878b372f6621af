package config

import (
	"fmt"
	"regexp"
	"unicode"
	"unicode/utf8"
)

// provinces are the one-character abbreviations of China's 34
// provincial-level divisions, which begin every ICP and public-security
// filing number. Where a province has a classical abbreviation as well as
// the common one (云/滇, 甘/陇, 陕/秦, 贵/黔, 川/蜀), both are accepted:
// filings are issued under either, e.g. 滇ICP备 and 蜀ICP备.
const provinces = "" +
	"京" + // Beijing
	"津" + // Tianjin
	"沪" + // Shanghai
	"渝" + // Chongqing
	"冀" + // Hebei
	"豫" + // Henan
	"云滇" + // Yunnan
	"辽" + // Liaoning
	"黑" + // Heilongjiang
	"湘" + // Hunan
	"皖" + // Anhui
	"鲁" + // Shandong
	"新" + // Xinjiang
	"苏" + // Jiangsu
	"浙" + // Zhejiang
	"赣" + // Jiangxi
	"鄂" + // Hubei
	"桂" + // Guangxi
	"甘陇" + // Gansu
	"晋" + // Shanxi
	"蒙" + // Inner Mongolia
	"陕秦" + // Shaanxi
	"吉" + // Jilin
	"闽" + // Fujian
	"贵黔" + // Guizhou
	"粤" + // Guangdong
	"青" + // Qinghai
	"藏" + // Tibet
	"川蜀" + // Sichuan
	"宁" + // Ningxia
	"琼" + // Hainan
	"港" + // Hong Kong
	"澳" + // Macao
	"台" // Taiwan

var (
	// icpRE matches a filing number (备案号: 京ICP备12345678号-1, where -N
	// numbers the sites under one filing) or a commercial licence
	// (经营许可证: 京ICP证123456号).
	icpRE = regexp.MustCompile(`^[` + provinces + `](?:ICP备[0-9]{8,10}号(?:-[1-9][0-9]*)?|ICP证[0-9]{6}号)$`)
	// policeRE matches a public-security filing number, whose 14 digits
	// begin with the 6-digit administrative division code.
	policeRE = regexp.MustCompile(`^[` + provinces + `]公网安备[0-9]{14}号$`)
)

const (
	expectICP = `a province abbreviation, "ICP备", 8–10 digits, "号" and an optional "-N" (e.g. 京ICP备12345678号-1), or a licence "ICP证" + 6 digits + "号"`

	expectPolice = `a province abbreviation, "公网安备", 14 digits and "号" (e.g. 京公网安备11010502012345号)`

	// maxCompany bounds notice.company, in characters: it is shown on
	// every page next to the filing number.
	maxCompany = 200

	expectCompany = "plain text of at most 200 characters on one line"
)

// companyProblem says what is wrong with a notice.company value, or "".
func companyProblem(s string) string {
	for _, r := range s {
		// Format characters include the bidi overrides, which could make
		// the notice read differently from what was filed.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("contains the control character %U", r)
		}
	}
	if n := utf8.RuneCountInString(s); n > maxCompany {
		return fmt.Sprintf("is %d characters long", n)
	}
	return ""
}
