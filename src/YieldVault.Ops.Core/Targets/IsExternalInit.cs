// netstandard2.0 lacks this marker type; defining it lets Core use init-only setters.
namespace System.Runtime.CompilerServices;

internal static class IsExternalInit
{
}
