using System;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// What the backend must report after a run put a version in place: the version of the release or image and the
/// commit it was built from, each where it is known. <see cref="Of"/> names what was put in place, for messages.
/// </summary>
internal sealed record ExpectedVersion(string? Version, string? Commit, string Of)
{
    public static ExpectedVersion Unknown(string of) => new(null, null, of);

    /// <summary>Why <paramref name="actual"/> is not what was expected, or null when it is (or nothing is known to compare).</summary>
    public string? Mismatch(VaultTarget target, VaultBackendVersion actual)
    {
        if (Version is not null && actual.Version != Version)
        {
            return $"{target.DisplayName}: {target.VersionPath} reports {actual.Version ?? "nothing"}, expected {Version} ({Of}).";
        }

        if (Commit is not null && actual.Commit is not null && !string.Equals(actual.Commit, Commit, StringComparison.OrdinalIgnoreCase))
        {
            return $"{target.DisplayName}: {target.VersionPath} reports commit {actual.Commit}, expected {Commit} ({Of}).";
        }

        return null;
    }

    /// <summary>Throws <paramref name="errorId"/> when <paramref name="actual"/> is not what was expected.</summary>
    public void Check(VaultTarget target, VaultBackendVersion actual, string errorId = ErrorIds.VersionMismatch)
    {
        if (Mismatch(target, actual) is { } why)
        {
            throw new VaultException(errorId, VaultErrorKind.InvalidData, why);
        }
    }
}
