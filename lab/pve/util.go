package pve

import (
	"sort"
	"time"
)

func sortStrings(s []string) { sort.Strings(s) }

func nowUTC() time.Time { return time.Now().UTC() }
