using System;

namespace YieldVault.Ops;

/// <summary>Broad kind of failure; the cmdlet layer maps it to PowerShell's ErrorCategory.</summary>
public enum VaultErrorKind
{
    InvalidArgument,
    InvalidData,
    ConnectionError,
    SecurityError,
    AuthenticationError,
    OperationTimeout,
    ResourceUnavailable,
    ResourceBusy,
    InvalidOperation,
    NotInstalled,
    ObjectNotFound,
    OperationStopped,
    LimitsExceeded,
}

/// <summary>
/// Every failure Core reports to the user. <see cref="ErrorId"/> is stable PascalCase and is what
/// scripts and tests match on; the message says what was tried, what was found and what to do next,
/// and never contains a secret (callers pass text through <see cref="SecretRedactor"/>).
/// </summary>
public class VaultException : Exception
{
    public VaultException(string errorId, VaultErrorKind kind, string message, string? recommendedAction = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorId = errorId;
        Kind = kind;
        RecommendedAction = recommendedAction;
    }

    public VaultException()
        : this(ErrorIds.VaultError, VaultErrorKind.InvalidOperation, "A YieldVault.Ops operation failed.")
    {
    }

    public VaultException(string message)
        : this(ErrorIds.VaultError, VaultErrorKind.InvalidOperation, message)
    {
    }

    public VaultException(string message, Exception innerException)
        : this(ErrorIds.VaultError, VaultErrorKind.InvalidOperation, message, null, innerException)
    {
    }

    public string ErrorId { get; }

    public VaultErrorKind Kind { get; }

    public string? RecommendedAction { get; }

    /// <summary>
    /// True when the host itself could not be reached or trusted (nothing else on that target can work
    /// either), as opposed to one probe or command failing.
    /// </summary>
    public bool IsConnectionFailure => ErrorId is ErrorIds.TargetUnreachable or ErrorIds.ConnectTimeout or ErrorIds.HostKeyMismatch or ErrorIds.HostKeyUnknown
        or ErrorIds.HostKeyRevoked or ErrorIds.AuthenticationFailed or ErrorIds.KeyFileInvalid or ErrorIds.ConnectionLost
        or ErrorIds.SshAgentFailed or ErrorIds.JumpHostRefused;

    /// <summary>The target the failure is about, when there is one (set by the layer that knows it).</summary>
    public object? TargetObject { get; set; }
}
