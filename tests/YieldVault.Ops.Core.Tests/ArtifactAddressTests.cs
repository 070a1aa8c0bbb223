using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Core.Tests;

/// <summary>An artifact URL is shown without what its query carries (a signed URL's signature).</summary>
public class ArtifactAddressTests
{
    private const string Signed = "https://ci.example/builds/1.3.0/backend.tar.gz?X-Amz-Signature=abcdef0123456789&X-Amz-Expires=300&flag";

    [Fact]
    public void A_url_is_shown_with_its_query_values_masked()
    {
        Assert.Equal("https://ci.example/builds/1.3.0/backend.tar.gz?X-Amz-Signature=***&X-Amz-Expires=***&flag", ArtifactAddress.Display(Signed));
        Assert.Equal("http://ci.example:8080/a.tar.gz", ArtifactAddress.Display("http://ci.example:8080/a.tar.gz"));
        Assert.Equal("https://***@ci.example/a.tgz", ArtifactAddress.Display("https://deploy:Hunter2@ci.example/a.tgz"));
        Assert.Equal("/srv/builds/a b.tar.gz", ArtifactAddress.Display("/srv/builds/a b.tar.gz"));
    }

    [Fact]
    public void The_file_name_has_no_query()
    {
        Assert.Equal("backend.tar.gz", ArtifactAddress.FileName(Signed));
        Assert.Equal("a.tar.gz", ArtifactAddress.FileName("/srv/builds/a.tar.gz"));
    }

    [Fact]
    public void Query_values_are_hidden_in_any_text()
    {
        var text = ArtifactAddress.HideQuery($"curl: (22) {Signed} failed; token abcdef0123456789", Signed);
        Assert.DoesNotContain("abcdef0123456789", text, System.StringComparison.Ordinal);
        Assert.Contains("X-Amz-Signature=***", text, System.StringComparison.Ordinal);
        Assert.Equal("no query here", ArtifactAddress.HideQuery("no query here", "https://ci.example/a.tgz"));
    }
}
