using System;
using System.Management.Automation;

namespace YieldVault.Ops.Hosting;

/// <summary>Turns Core failures into PowerShell error records with stable ids and a recommended action.</summary>
internal static class ErrorRecords
{
    public static ErrorRecord From(VaultException ex, object? target, SecretRedactor redactor)
    {
        var message = redactor.Redact(ex.Message);
        var exception = new VaultOperationException(message, ex);
        var record = new ErrorRecord(exception, ex.ErrorId, Category(ex.Kind), target ?? ex.TargetObject);
        record.ErrorDetails = new ErrorDetails(message);
        if (ex.RecommendedAction is { } action)
        {
            record.ErrorDetails.RecommendedAction = redactor.Redact(action);
        }

        return record;
    }

    public static ErrorRecord Create(string errorId, ErrorCategory category, string message, object? target, string? recommendedAction = null)
    {
        var record = new ErrorRecord(new VaultOperationException(message), errorId, category, target);
        record.ErrorDetails = new ErrorDetails(message);
        if (recommendedAction is not null)
        {
            record.ErrorDetails.RecommendedAction = recommendedAction;
        }

        return record;
    }

    public static ErrorCategory Category(VaultErrorKind kind) => kind switch
    {
        VaultErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        VaultErrorKind.InvalidData => ErrorCategory.InvalidData,
        VaultErrorKind.ConnectionError => ErrorCategory.ConnectionError,
        VaultErrorKind.SecurityError => ErrorCategory.SecurityError,
        VaultErrorKind.AuthenticationError => ErrorCategory.AuthenticationError,
        VaultErrorKind.OperationTimeout => ErrorCategory.OperationTimeout,
        VaultErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        VaultErrorKind.ResourceBusy => ErrorCategory.ResourceBusy,
        VaultErrorKind.NotInstalled => ErrorCategory.NotInstalled,
        VaultErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        VaultErrorKind.OperationStopped => ErrorCategory.OperationStopped,
        VaultErrorKind.LimitsExceeded => ErrorCategory.LimitsExceeded,
        _ => ErrorCategory.InvalidOperation,
    };
}

/// <summary>
/// The exception inside our error records. It carries the redacted message only: the Core exception's
/// inner exceptions (SSH.NET, sockets) stay out of $Error, where they could hold server text.
/// </summary>
public sealed class VaultOperationException : Exception
{
    public VaultOperationException()
    {
    }

    public VaultOperationException(string message)
        : base(message)
    {
    }

    public VaultOperationException(string message, Exception innerException)
        : base(message)
    {
        ErrorId = (innerException as VaultException)?.ErrorId;
    }

    /// <summary>The stable id of the failure (also the record's FullyQualifiedErrorId prefix).</summary>
    public string? ErrorId { get; }
}
