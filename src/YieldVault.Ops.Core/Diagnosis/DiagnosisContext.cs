using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Diagnosis;

/// <summary>
/// What one diagnosis of one target shares between its checks: the target and its shell, the service manager's reading
/// and the env file (each read once), and the one way a finding leaves (redacted, reported as it is found).
/// </summary>
internal sealed class DiagnosisContext
{
    private readonly Action<VaultDiagnosisFinding> _report;
    private ServiceState? _state;
    private string? _stateError;
    private bool _stateRead;
    private IReadOnlyDictionary<string, string>? _env;
    private string? _envError;
    private bool _envRead;

    public DiagnosisContext(VaultTarget target, IHostShell shell, SecretRedactor redactor, DiagnosisRequest request, Action<VaultDiagnosisFinding> report)
    {
        Target = target;
        Shell = shell;
        Redactor = redactor;
        Request = request;
        _report = report;
    }

    public VaultTarget Target { get; }

    public IHostShell Shell { get; }

    public SecretRedactor Redactor { get; }

    public DiagnosisRequest Request { get; }

    /// <summary>How many findings were reported.</summary>
    public int Count { get; private set; }

    /// <summary>Why the service manager could not be read, when <see cref="StateAsync"/> returned null.</summary>
    public string? StateError => _stateError;

    /// <summary>Why the env file could not be read, when <see cref="EnvAsync"/> returned null (null: it does not exist).</summary>
    public string? EnvError => _envError;

    /// <summary>The service manager's reading, once; null when it could not be read (<see cref="StateError"/>).</summary>
    public async Task<ServiceState?> StateAsync(CancellationToken cancellationToken)
    {
        if (!_stateRead)
        {
            _stateRead = true;
            try
            {
                _state = await ServiceManagers.For(Target, Shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (VaultException ex) when (!ex.IsConnectionFailure)
            {
                _stateError = ex.Message;
            }
        }

        return _state;
    }

    /// <summary>The env file's values (registered as secrets), once; null when it does not exist or cannot be read (<see cref="EnvError"/>).</summary>
    public async Task<IReadOnlyDictionary<string, string>?> EnvAsync(CancellationToken cancellationToken)
    {
        if (!_envRead)
        {
            _envRead = true;
            try
            {
                _env = await EnvironmentFiles.ReadAsync(Target, Shell, Redactor, cancellationToken).ConfigureAwait(false);
            }
            catch (VaultException ex) when (!ex.IsConnectionFailure)
            {
                _envError = ex.Message;
            }
        }

        return _env;
    }

    /// <summary>A shell command to run on the target's host, as a finding's next step.</summary>
    public string OnHost(string command) => (Target.Ssh is null ? "on this machine: " : $"on {Target.Ssh.HostName}: ") + command;

    public void Report(VaultSymptom symptom, string check, FindingStatus status, string summary, IEnumerable<string> evidence, string? next, string runbook)
    {
        Count++;
        _report(new VaultDiagnosisFinding
        {
            Target = Target,
            Symptom = symptom,
            Check = check,
            Status = status,
            Summary = Redactor.Redact(summary),
            Evidence = evidence.Where(e => !string.IsNullOrWhiteSpace(e)).Select(e => Redactor.Redact(Cut(e, 400))).ToList(),
            Next = next is null ? null : Redactor.Redact(next),
            Runbook = runbook,
        });
    }

    public static string Cut(string text, int length)
    {
        var line = text.Replace("\r", "").Replace('\n', ' ').Trim();
        return line.Length > length ? line.Substring(0, length) + "..." : line;
    }
}
