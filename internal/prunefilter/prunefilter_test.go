package prunefilter

import (
	"errors"
	"testing"
	"time"
)

func TestParseAndMatch(t *testing.T) {
	now := time.Now()
	old, fresh := now.Add(-48*time.Hour), now
	for _, tt := range []struct {
		name    string
		filters map[string][]string
		created time.Time
		labels  map[string]string
		want    bool
	}{
		{"none", nil, fresh, nil, true},
		{"until keeps the young", map[string][]string{"until": {"24h"}}, fresh, nil, false},
		{"until takes the old", map[string][]string{"until": {"24h"}}, old, nil, true},
		{"until as Unix seconds", map[string][]string{"until": {"1000000000.5"}}, time.Unix(999999999, 0), nil, true},
		{"until as a date", map[string][]string{"until": {"2001-01-01"}}, time.Unix(999999999, 0), nil, false},
		{"label key", map[string][]string{"label": {"a"}}, fresh, map[string]string{"a": "1"}, true},
		{"label key missing", map[string][]string{"label": {"a"}}, fresh, map[string]string{"b": "1"}, false},
		{"label value", map[string][]string{"label": {"a=1"}}, fresh, map[string]string{"a": "2"}, false},
		{"labels all", map[string][]string{"label": {"a", "b=2"}}, fresh, map[string]string{"a": "", "b": "2"}, true},
		{"label! keeps", map[string][]string{"label!": {"keep"}}, fresh, map[string]string{"keep": "x"}, false},
		{"label! takes others", map[string][]string{"label!": {"keep"}}, fresh, map[string]string{"other": "x"}, true},
		{"label! with a value", map[string][]string{"label!": {"keep=yes"}}, fresh, map[string]string{"keep": "no"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, _, err := Parse(tt.filters, "until", "label", "label!")
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tt.created, tt.labels); got != tt.want {
				t.Errorf("Match = %v; want %v (filter %+v)", got, tt.want, f)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, filters := range []map[string][]string{
		{"until": {"yesterday"}},
		{"until": {"1h", "2h"}},
		{"name": {"x"}},
		{"until": {"1h"}, "dangling": {"true"}},
	} {
		if _, _, err := Parse(filters, "until", "label", "label!"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%v) = %v; want ErrInvalid", filters, err)
		}
	}
	f, rest, err := Parse(map[string][]string{"dangling": {"false"}, "label": {"a"}}, "dangling", "label")
	if err != nil || rest["dangling"][0] != "false" || len(f.Labels) != 1 {
		t.Errorf("Parse with a caller's key = %+v %v %v", f, rest, err)
	}
}
