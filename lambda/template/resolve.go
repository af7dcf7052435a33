package template

import (
	"os"
	"regexp"
	"strconv"
	"strings"
)

// accountID is the account thaw's function ARNs carry.
const accountID = "000000000000"

// resolver resolves Ref and Fn::Sub against the template alone.
type resolver struct {
	region string
}

func newResolver() *resolver {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	return &resolver{region: region}
}

// ref resolves a Ref: a pseudo parameter, a parameter's Default or a
// resource's logical id; nil when the template alone cannot say.
func (r *resolver) ref(_ string, input, template any) any {
	name, ok := input.(string)
	if !ok {
		return nil
	}
	switch name {
	case "AWS::Region":
		return r.region
	case "AWS::AccountId":
		return accountID
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::StackName":
		return "thaw"
	case "AWS::StackId":
		return "arn:aws:cloudformation:" + r.region + ":" + accountID + ":stack/thaw/00000000-0000-0000-0000-000000000000"
	case "AWS::NotificationARNs":
		return []any{}
	case "AWS::NoValue":
		return nil
	}
	doc, _ := template.(map[string]any)
	if params, _ := doc["Parameters"].(map[string]any); params != nil {
		if param, _ := params[name].(map[string]any); param != nil {
			return param["Default"]
		}
	}
	if resources, _ := doc["Resources"].(map[string]any); resources != nil {
		if _, ok := resources[name]; ok {
			return name
		}
	}
	return nil
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub resolves Fn::Sub, "text ${Name}" or ["text ${Name}", {"Name": value}].
// ${!Literal} stands for the text ${Literal}. A variable that cannot be
// resolved (an attribute, ${Res.Attr}, or an unresolvable Ref) leaves the
// whole value unresolved, nil, rather than silently empty.
func (r *resolver) sub(_ string, input, template any) any {
	var text string
	vars := map[string]any{}
	switch v := input.(type) {
	case string:
		text = v
	case []any:
		if len(v) != 2 {
			return nil
		}
		s, ok := v[0].(string)
		if !ok {
			return nil
		}
		text = s
		if m, ok := v[1].(map[string]any); ok {
			vars = m
		}
	default:
		return nil
	}
	unresolved := false
	out := subVariable.ReplaceAllStringFunc(text, func(match string) string {
		name := strings.TrimSpace(match[2 : len(match)-1])
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		value, ok := vars[name]
		if !ok {
			if strings.Contains(name, ".") {
				unresolved = true
				return ""
			}
			value = r.ref("Ref", name, template)
		}
		switch v := value.(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(v)
		}
		unresolved = true
		return ""
	})
	if unresolved {
		return nil
	}
	return out
}
