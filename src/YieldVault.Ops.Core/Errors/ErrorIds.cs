namespace YieldVault.Ops;

/// <summary>
/// The stable error ids of YieldVault.Ops (the first part of an error's FullyQualifiedErrorId, and
/// <see cref="VaultException.ErrorId"/>): what scripts and tests match on. docs/en-US/about_YieldVault.Ops_Errors.help.md
/// says what each means and what to do; a test keeps the two in step.
/// </summary>
public static class ErrorIds
{
    /// <summary>Something in a run took longer than it may (a timeout outside the SSH and HTTP layers, which have their own ids).</summary>
    public const string OperationTimeout = nameof(OperationTimeout);

    /// <summary>A failure YieldVault.Ops did not expect (a defect): the run still ends, journals it and rolls back where it stopped the service.</summary>
    public const string UnexpectedFailure = nameof(UnexpectedFailure);
}
