package auth

import (
	"errors"
	"testing"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{in: "superuser", want: RoleSuperuser},
		{in: "readwrite", want: RoleReadWrite},
		{in: "readonly", want: RoleReadOnly},
		{in: "", wantErr: true},
		{in: "SuperUser", wantErr: true},
		{in: "admin", wantErr: true},
		{in: " readonly", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRole(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseRole(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	all := func(r Role) Claims { return Claims{Role: r} }
	only := func(r Role) Claims { return Claims{Role: r, Caches: []string{"a", "b"}} }
	tests := []struct {
		name   string
		claims Claims
		action Action
		cache  string
		allow  bool
	}{
		{"superuser read", all(RoleSuperuser), ActionRead, "x", true},
		{"superuser write", all(RoleSuperuser), ActionWrite, "x", true},
		{"superuser control", all(RoleSuperuser), ActionControl, "x", true},
		{"superuser list caches", all(RoleSuperuser), ActionControl, "", true},
		{"readwrite read", all(RoleReadWrite), ActionRead, "x", true},
		{"readwrite write", all(RoleReadWrite), ActionWrite, "x", true},
		{"readwrite control", all(RoleReadWrite), ActionControl, "x", false},
		{"readonly read", all(RoleReadOnly), ActionRead, "x", true},
		{"readonly write", all(RoleReadOnly), ActionWrite, "x", false},
		{"readonly control", all(RoleReadOnly), ActionControl, "x", false},

		{"limited superuser listed cache", only(RoleSuperuser), ActionControl, "a", true},
		{"limited superuser other cache", only(RoleSuperuser), ActionControl, "c", false},
		{"limited superuser list caches", only(RoleSuperuser), ActionControl, "", false},
		{"limited readwrite listed cache", only(RoleReadWrite), ActionWrite, "b", true},
		{"limited readwrite other cache", only(RoleReadWrite), ActionWrite, "c", false},
		{"limited readwrite other cache read", only(RoleReadWrite), ActionRead, "c", false},
		{"limited readonly listed cache", only(RoleReadOnly), ActionRead, "a", true},
		{"limited readonly listed cache write", only(RoleReadOnly), ActionWrite, "a", false},
		{"limited readonly other cache", only(RoleReadOnly), ActionRead, "A", false},
		{"limited readonly no cache", only(RoleReadOnly), ActionRead, "", false},

		{"empty role", Claims{}, ActionRead, "x", false},
		{"unknown role", all("admin"), ActionRead, "x", false},
		{"unknown action", all(RoleSuperuser), Action("delete"), "x", false},
		{"empty action", all(RoleSuperuser), "", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.claims.Authorize(tt.action, tt.cache)
			if tt.allow && err != nil {
				t.Errorf("Authorize(%q, %q) = %v, want nil", tt.action, tt.cache, err)
			}
			if !tt.allow && !errors.Is(err, ErrPermissionDenied) {
				t.Errorf("Authorize(%q, %q) = %v, want ErrPermissionDenied", tt.action, tt.cache, err)
			}
		})
	}
}
