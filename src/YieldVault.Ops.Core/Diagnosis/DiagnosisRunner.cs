using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Diagnosis;

/// <summary>
/// Get-VaultDiagnosis: the runbook's Troubleshooting section run as checks on one target, each reported as a finding as
/// soon as it is made (what was found, the evidence, the next command). A check that cannot run is a finding too
/// (NotChecked, and why); only a target that cannot be reached at all fails the call.
/// </summary>
public static class DiagnosisRunner
{
    public static async Task<int> RunAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, DiagnosisRequest request, Action<VaultDiagnosisFinding> report,
        int progressId, CancellationToken cancellationToken)
    {
        var context = new DiagnosisContext(target, shell, redactor, request, report);
        var symptoms = request.Symptoms.Distinct().OrderBy(s => s).ToList();
        var activity = $"Diagnosing {target.Name}";
        try
        {
            for (var i = 0; i < symptoms.Count; i++)
            {
                var symptom = symptoms[i];
                var percent = i * 100 / symptoms.Count;
                void Progress(string what) => Reporting.Current.Progress(progressId, activity, $"{symptom}: {what}", percent);
                switch (symptom)
                {
                    case VaultSymptom.WontStart:
                        await StartupChecks.RunAsync(context, Progress, cancellationToken).ConfigureAwait(false);
                        break;
                    case VaultSymptom.Database:
                        await DatabaseChecks.RunAsync(context, Progress, cancellationToken).ConfigureAwait(false);
                        break;
                    case VaultSymptom.Memory when symptoms.Contains(VaultSymptom.SlowResponses):
                        // Memory and slow responses share one sampling window.
                        await ResourceChecks.RunAsync(context, memory: true, slow: true, Progress, cancellationToken).ConfigureAwait(false);
                        i++;
                        break;
                    case VaultSymptom.Memory:
                        await ResourceChecks.RunAsync(context, memory: true, slow: false, Progress, cancellationToken).ConfigureAwait(false);
                        break;
                    case VaultSymptom.SlowResponses:
                        await ResourceChecks.RunAsync(context, memory: false, slow: true, Progress, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }
        finally
        {
            Reporting.Current.Progress(progressId, activity, "done", 100, completed: true);
        }

        return context.Count;
    }
}
