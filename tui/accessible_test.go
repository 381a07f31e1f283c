package tui

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

func accessibleRunWith(t *testing.T, o tuitest.Options, ao AccessibleOptions, input string) (string, Outcome) {
	t.Helper()
	be, err := tuitest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/tmp/x.log"
	ao.Options = Options{Backend: be, Common: com}
	ao.Again = "tappaas --lab"
	var out bytes.Buffer
	res := RunAccessible(context.Background(), ao, strings.NewReader(input), &out)
	return out.String(), res
}

func TestAccessibleExplore(t *testing.T) {
	out, res := accessibleRunWith(t, tuitest.Options{Dir: t.TempDir(), Lines: 1}, AccessibleOptions{}, "\nexample\nexample.org\nadmin@example.org\n\n10.0.0.1/24\n\n\n1\n\n\n\nWIPE sdc\nWIPE sdb\n\n\n\n\n\n")
	t.Logf("%s\n%+v", out, res)
}
